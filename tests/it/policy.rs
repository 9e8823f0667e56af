//! The safety policy a new user meets: the demo's built-in policy and `--demo --config FILE`,
//! the built-in profiles, and read-only guests (refused for every change, by the staging
//! module, whoever plans it).

use crate::common::{TestSim, bin, demo, refused, run_audited, split, state};

/// Writes `text` as the user's config in `sim`'s home (every run against `sim` reads it).
fn user_config(sim: &TestSim, text: &str) {
    let dir = sim.home.path().join("config/pvesh-plus");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cluster-config.yaml"), text).unwrap();
}

/// `pvesh-plus --demo --config FILE -c LINE`, with `text` as FILE.
fn demo_with_config(text: &str, line: &str) -> (i32, String, String, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let file = dir.join("mine.yaml");
    std::fs::write(&file, text).unwrap();
    let out = bin()
        .args(["--demo", "--config"])
        .arg(&file)
        .args(["-c", line])
        .output()
        .unwrap();
    let (code, stdout, stderr) = split(out);
    (code, stdout, stderr, file)
}

#[test]
fn the_demo_runs_with_its_built_in_policy_and_context_shows_it() {
    let (code, out, err) = demo("context");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("config:    built-in demo policy"), "{out}");
    assert!(
        out.contains("quotas:    16 cores, 64G memory, 500G disk per guest; 200 guests"),
        "{out}"
    );
    assert!(out.contains("protected: VMIDs 103; names db01"), "{out}");
    assert!(out.contains("readonly:  names ubuntu-24.04-cloud"), "{out}");
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line}");
    }
    for (line, rule) in [
        ("set web01 cores=9999", "quotas.max_cores"),
        ("set web02 memory=100G", "quotas.max_memory"),
        ("stop db01", "protected.vmids"),
        ("set ubuntu-24.04-cloud memory=4096", "readonly.names"),
    ] {
        let (code, _, err) = demo(line);
        assert_eq!(code, 4, "{line}: {err}");
        assert!(err.contains(rule), "{line}: {err}");
        assert!(
            err.contains("--demo --config FILE") || !rule.starts_with("quotas"),
            "{err}"
        );
    }
}

/// The README's examples of the staged-changes section run in the demo as they say: the
/// staging walk-through as a batch, and each policy example with the exit code and the rule
/// its comment names.
#[test]
fn the_readme_safety_examples_run_in_the_demo() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## Staged changes").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let blocks: Vec<&str> = section
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 2, "the walk-through and the policy examples");
    let lines = |block: &str| -> Vec<(String, String)> {
        block
            .lines()
            .map(|l| {
                let (line, comment) = l.split_once('#').unwrap_or((l, ""));
                (line.trim().to_string(), comment.trim().to_string())
            })
            .filter(|(l, _)| !l.is_empty())
            .collect()
    };
    let script = tempfile::NamedTempFile::new().unwrap();
    let walk: Vec<String> = lines(blocks[0]).into_iter().map(|(l, _)| l).collect();
    std::fs::write(script.path(), walk.join("\n")).unwrap();
    let (code, out, err) = split(
        bin()
            .args(["--demo", "-f"])
            .arg(script.path())
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("staged 3 change(s)"), "{err}");
    let examples = lines(blocks[1]);
    assert!(examples.len() >= 4, "{examples:?}");
    for (line, comment) in examples {
        let (code, _, err) = demo(&line);
        if comment.starts_with("refused (exit 4)") {
            assert_eq!(code, 4, "{line}: {err}");
            let rule = comment
                .split(": ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            assert!(err.contains(rule), "{line}: '{rule}' not in {err}");
        } else {
            assert_eq!(code, 0, "{line}: {err}");
        }
    }
}

#[test]
fn demo_with_config_uses_that_file() {
    let mine = "quotas: { max_cores: 4 }\nreadonly: { names: [web02] }\n";
    let (code, out, err, file) = demo_with_config(mine, "context");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("config:    {}", file.display())),
        "{out}"
    );
    assert!(out.contains("quotas:    4 cores per guest"), "{out}");
    let (code, _, err, _) = demo_with_config(mine, "set web01 cores=6");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("allows 4"), "{err}");
    assert!(err.contains("/mine.yaml"), "the hint names the file: {err}");
    let (code, _, err, _) = demo_with_config(mine, "reboot web02");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("readonly.names"), "{err}");
    // The file's policy replaces the demo's: the demo's read-only template is not read-only.
    let (code, _, err, _) = demo_with_config(mine, "set ubuntu-24.04-cloud onboot=1");
    assert_eq!(code, 0, "{err}");
    // A bad file is an error naming it, not silently ignored.
    let (code, _, err, file) = demo_with_config("quotas: { max_cpus: 4 }\n", "context");
    assert_ne!(code, 0);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("max_cpus"),
        "{err}"
    );
    let (code, _, err) = split(
        bin()
            .args(["--demo", "--config", "/nonexistent/pvesh.yaml", "-c", "ls"])
            .output()
            .unwrap(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/pvesh.yaml"), "{err}");
}

#[test]
fn built_in_profiles_work_without_a_config() {
    let sim = TestSim::demo();
    let (out, err) = run_audited(&sim, "new web03 --profile webserver --dry-run", 0);
    assert!(out.contains("template:  debian-12-cloud"), "{out}\n{err}");
    assert!(out.contains("cores:     2"), "{out}");
    assert!(out.contains("memory:    2.0 GiB"), "{out}");
    assert!(out.contains("tags:      web"), "{out}");
    let (out, _) = run_audited(&sim, "new dev03 --profile development --dry-run", 0);
    assert!(out.contains("disk:      100.0 GiB"), "{out}");
    // A miss names them all.
    let (code, _, err) = sim.run("new x --profile webservr --dry-run");
    assert_ne!(code, 0);
    assert!(err.contains("did you mean `webserver`?"), "{err}");
    assert!(
        err.contains("webserver, development, monitoring, media-server"),
        "{err}"
    );
    // And in the demo.
    let (code, out, err) = demo("new web03 --profile webserver --dry-run");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cores:     2"), "{out}");
}

#[test]
fn a_configs_profiles_replace_and_add_to_the_built_in_ones() {
    let sim = TestSim::demo();
    user_config(
        &sim,
        "profiles:\n  webserver: { cores: 1, memory: 1G, template: debian-12-cloud }\n  \
         tiny: { cores: 1, memory: 512M, template: debian-12-cloud }\n",
    );
    let (out, _) = run_audited(&sim, "new web03 --profile webserver --dry-run", 0);
    assert!(out.contains("cores:     1"), "{out}");
    assert!(out.contains("memory:    1.0 GiB"), "{out}");
    assert!(
        !out.contains("tags:      web"),
        "replaced, not merged: {out}"
    );
    let (out, _) = run_audited(&sim, "new t1 --profile tiny --dry-run", 0);
    assert!(out.contains("memory:    512.0 MiB"), "{out}");
    let (out, _) = run_audited(&sim, "new m1 --profile monitoring --dry-run", 0);
    assert!(out.contains("memory:    4.0 GiB"), "{out}");
}

/// A config that makes dev-box (120, stopped, on pve3) read-only, for the tests below.
const READONLY_DEV_BOX: &str = "readonly:\n  names: [dev-box]\n";

#[test]
fn a_readonly_guest_refuses_every_change_with_exit_4_and_sends_nothing() {
    let sim = TestSim::demo();
    user_config(&sim, READONLY_DEV_BOX);
    for line in [
        "start dev-box",
        "set dev-box memory=4G",
        "set dev-box onboot=1",
        "snapshot pre dev-box",
        "tag add x dev-box",
        "template dev-box",
        "destroy dev-box",
        "migrate dev-box pve1",
        "resize dev-box scsi0 +1G",
        "disk add dev-box 10G",
        "backup dev-box --storage backup",
        "set /nodes/pve3/qemu/120/config description=x",
    ] {
        refused(
            &sim,
            line,
            4,
            "the guest is read-only — name `dev-box` is listed in `readonly.names`",
        );
    }
    assert_eq!(sim.handle.mutating_count(), 0);
    // Nothing was staged either.
    let (out, _) = run_audited(&sim, "pending", 0);
    assert!(!out.contains("dev-box"), "{out}");
    // Reads still work, and so does a clone of it (it only reads its source).
    run_audited(&sim, "status dev-box", 0);
    run_audited(&sim, "config dev-box", 0);
    run_audited(&sim, "snapshots dev-box", 0);
    run_audited(&sim, "clone dev-box dev-copy --vmid 170", 0);
    assert!(state(&sim, |s| s.guests.contains_key(&170)));
}

#[test]
fn one_readonly_guest_refuses_the_whole_line() {
    let sim = TestSim::demo();
    user_config(&sim, READONLY_DEV_BOX);
    // dev-box, dev-win11 and lab-k8s-03 are the stopped guests on pve3.
    refused(
        &sim,
        "ls | where node=pve3 and status=stopped and type=qemu | start",
        4,
        "refusing `start` on dev-box (120)",
    );
    assert!(!state(&sim, |s| s.guests[&121].is_running()));
    // A mixed plan: the 8 GiB guests of pve3 get less memory (staged), lab-k8s-03 (4 GiB,
    // read-only here) more (at once). Nothing of it is staged either.
    user_config(&sim, "readonly:\n  names: [lab-k8s-03]\n");
    refused(
        &sim,
        "ls | where node=pve3 and type=qemu | set memory=6G",
        4,
        "refusing `set memory=6144` on lab-k8s-03 (142)",
    );
    let (out, _) = run_audited(&sim, "pending", 0);
    assert!(!out.contains("memory"), "nothing staged: {out}");
}

#[test]
fn the_readonly_tag_works_without_a_config_and_differs_from_protected() {
    let sim = TestSim::demo();
    sim.handle.with_state(|s| {
        let g = s.guests.get_mut(&120).unwrap();
        g.config.insert("tags".into(), "dev;readonly".into());
    });
    refused(&sim, "start dev-box", 4, "it carries the `readonly` tag");
    refused(
        &sim,
        "set dev-box onboot=1",
        4,
        "it carries the `readonly` tag",
    );
    // A protected guest refuses only destructive changes: start and a growing set run.
    user_config(&sim, "protected:\n  names: [dev-win11]\n");
    run_audited(&sim, "start dev-win11", 0);
    run_audited(&sim, "set dev-win11 onboot=1", 0);
    refused(&sim, "stop dev-win11", 4, "the guest is protected");
    assert!(state(&sim, |s| s.guests[&121].is_running()));
}

/// A change staged before its guest became read-only is refused at commit: nothing is sent,
/// the plan stays pending, exit 4.
#[test]
fn commit_refuses_a_staged_change_to_a_guest_that_became_readonly() {
    let sim = TestSim::demo();
    run_audited(&sim, "stop web01", 0);
    user_config(&sim, "readonly:\n  vmids: [101]\n");
    let sent = sim.handle.mutating_count();
    let (out, err) = run_audited(&sim, "commit", 4);
    assert_eq!(sim.handle.mutating_count(), sent, "nothing was sent");
    assert!(out.contains("refused"), "{out}");
    assert!(
        err.contains("VMID 101 is listed in `readonly.vmids`"),
        "{err}"
    );
    assert!(state(&sim, |s| s.guests[&101].is_running()));
    let (out, _) = run_audited(&sim, "pending", 0);
    assert!(out.contains("web01"), "still pending: {out}");
}

/// In a terminal, Tab after `--profile` offers the profiles: the built-in ones and the
/// config's.
#[test]
fn tab_completes_profile_names() {
    let sim = TestSim::demo();
    user_config(&sim, "profiles:\n  zeta-box: { cores: 1 }\n");
    let mut cmd = crate::common::std_cmd(sim.home.path());
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
    ])
    .env("PROXMOX_USER", "root@pam")
    .env("PROXMOX_PASSWORD", crate::common::PASSWORD)
    .env("TERM", "xterm");
    let mut p = crate::common::Pty::spawn(cmd, 20_000);
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    p.send("new web09 --profile media").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("media-server").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("> ").unwrap();
    p.send("new web09 --profile zet").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("zeta-box").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

/// `pvesh-plus -c LINE` against `sim`, with `home` as its home (state, config).
fn run_in(sim: &TestSim, home: &std::path::Path, line: &str) -> (i32, String, String) {
    split(sim.cmd_in(home).args(["-c", line]).output().unwrap())
}

/// Two clusters known by the same name (here both `127.0.0.1`, reached without a config):
/// changes staged on one are not restored into the other, which says so; the first gets them
/// back.
#[test]
fn a_pending_buffer_belongs_to_its_cluster() {
    let (a, b) = (TestSim::demo(), TestSim::demo());
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(&a, home.path(), "stop web01");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_in(&b, home.path(), "pending");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("nothing pending"),
        "not restored into b: {out}"
    );
    let a_port = a.handle.addr().port();
    assert!(
        err.contains("not restored: 1 pending change(s)")
            && err.contains(&format!(
                "belong to another cluster (127.0.0.1 at 127.0.0.1:{a_port})"
            )),
        "{err}"
    );
    // A change staged on b does not replace a's.
    run_in(&b, home.path(), "stop web02");
    let (_, out, err) = run_in(&a, home.path(), "pending");
    assert!(out.contains("web01") && !out.contains("web02"), "{out}");
    assert!(err.contains("restored 1 pending change(s)"), "{err}");
    assert!(
        err.contains("belong to another cluster"),
        "b's is reported: {err}"
    );
    assert_eq!(a.handle.mutating_count() + b.handle.mutating_count(), 0);
}

/// A buffer saved by an earlier version (keyed by the cluster's name only) is not restored
/// blindly: the start says where it is and how to take it.
#[test]
fn a_buffer_of_an_earlier_version_is_reported_not_restored() {
    let sim = TestSim::demo();
    let dir = sim.home.path().join("state/pvesh-plus");
    std::fs::create_dir_all(&dir).unwrap();
    let old = r#"{"version":2,"cluster":"127.0.0.1","actions":[{"id":7,"op":{"kind":"stop"},
        "target":{"vmid":101,"node":"pve1","guest_kind":"qemu","name":"web01"},
        "precondition":{"digest":null,"node":"pve1","status":"running"}}]}"#;
    std::fs::write(dir.join("pending-127.0.0.1.json"), old).unwrap();
    let (out, err) = run_audited(&sim, "pending", 0);
    assert!(out.contains("nothing pending"), "{out}");
    assert!(
        err.contains("saved by an earlier version of pvesh+") && err.contains("rename the file to"),
        "{err}"
    );
}

/// Each `--demo` run is a new simulated cluster: it starts with nothing pending, and a demo
/// buffer an earlier version left on disk is reported and removed.
#[test]
fn a_new_demo_run_starts_with_nothing_pending() {
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("stop.pve");
    std::fs::write(&script, "stop web01\n").unwrap();
    let demo_in = |args: &[&str]| {
        let mut cmd = crate::common::std_cmd(home.path());
        cmd.arg("--demo").args(args);
        split(cmd.output().unwrap())
    };
    let (code, _, err) = demo_in(&["-f", script.to_str().unwrap()]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("end with the run"), "{err}");
    let (code, out, err) = demo_in(&["-c", "pending"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing pending"), "{out}");
    assert!(!err.contains("restored"), "{err}");
    let old = home.path().join("state/pvesh-plus/pending-demo.json");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(
        &old,
        r#"{"version":2,"cluster":"demo","actions":[{"id":7,"op":{"kind":"stop"},
        "target":{"vmid":101,"node":"pve1","guest_kind":"qemu","name":"web01"},
        "precondition":{"digest":null,"node":"pve1","status":"running"}}]}"#,
    )
    .unwrap();
    let (code, out, err) = demo_in(&["-c", "pending"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing pending"), "{out}");
    assert!(err.contains("of an earlier --demo run"), "{err}");
    assert!(!old.exists(), "removed");
}
