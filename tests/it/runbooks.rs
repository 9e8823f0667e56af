//! `runbook ls|show|run` through the binary against the simulator: every shipped runbook runs
//! and leaves the state it promises (templates with their config, snapshots, reboots one at a
//! time or in batches), a failing step stops the run and `--from` resumes it, `--dry-run`
//! changes nothing, bad or missing parameters are usage errors naming them, and a user's
//! runbook replaces a shipped one, saying so.

use std::io::Write as _;

use crate::common::{TestSim, run_audited, state};

const URL: &str =
    "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2";

/// The config of the guest named `name`, if there is one.
fn config_of(sim: &TestSim, name: &str) -> Option<(u32, indexmap::IndexMap<String, String>)> {
    sim.handle.with_state(|s| {
        s.guests
            .values()
            .find(|g| g.cfg("name") == Some(name))
            .map(|g| (g.vmid, g.config.to_map()))
    })
}

/// Writes a runbook into the user's runbook directory of `sim`'s home.
fn user_runbook(sim: &TestSim, name: &str, text: &str) {
    let dir = sim.home.path().join("config/pvesh-plus/runbooks");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.md")), text).unwrap();
}

/// A TCP server on 127.0.0.1 that greets every connection as an SSH server does.
fn ssh_greeter() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        }
    });
    port
}

/// The CI runners (110-112, tag `ci`) answer on 127.0.0.1: no agent, a static address.
fn runners_on_loopback(sim: &TestSim) {
    sim.wait_for_state(|s| {
        for vmid in [110, 111, 112] {
            let g = s.guests.get_mut(&vmid).unwrap();
            g.config.shift_remove("agent");
            g.config.insert("ipconfig0".into(), "ip=127.0.0.1/8".into());
        }
        Some(())
    });
}

/// (start, end) of each reboot task, by VMID, in the order they started.
fn reboots(sim: &TestSim) -> Vec<(u32, f64, f64)> {
    state(sim, |s| {
        let mut r: Vec<(u32, f64, f64)> = s
            .tasks
            .iter()
            .filter(|t| t.kind == "qmreboot")
            .map(|t| (t.id.parse().unwrap(), t.start_f, t.end_f))
            .collect();
        r.sort_by(|a, b| a.1.total_cmp(&b.1));
        r
    })
}

fn snapshot_names(sim: &TestSim, vmid: u32) -> Vec<String> {
    state(sim, |s| {
        s.guests[&vmid]
            .snapshots
            .iter()
            .map(|x| x.name.clone())
            .collect()
    })
}

#[test]
fn create_cloudinit_template_builds_a_template() {
    let sim = TestSim::demo();
    let (out, err) = run_audited(
        &sim,
        &format!("runbook run create-cloudinit-template url={URL} name=rb-gc node=pve2"),
        0,
    );
    assert!(err.contains("step 1/3: Check the plan\n"), "{err}");
    assert!(err.contains("step 2/3: Build the template\n"), "{err}");
    assert!(
        err.contains("runbook create-cloudinit-template: all 3 steps done"),
        "{err}"
    );
    assert!(out.contains("Build the template  done"), "{out}");
    let (vmid, config) = config_of(&sim, "rb-gc").expect("the template exists");
    assert_eq!(config.get("template").map(String::as_str), Some("1"));
    assert!(config["ide2"].contains("cloudinit"), "{config:?}");
    assert!(config["scsi0"].starts_with("local-lvm:"), "{config:?}");
    let node = state(&sim, |s| s.guests[&vmid].node.clone());
    assert_eq!(node, "pve2");
}

#[test]
fn create_iso_template_makes_an_installer_template() {
    let sim = TestSim::demo();
    run_audited(
        &sim,
        "runbook run create-iso-template name=rb-inst iso=debian-12.9.0-amd64-netinst.iso memory=4G",
        0,
    );
    let (_, config) = config_of(&sim, "rb-inst").expect("the template exists");
    assert_eq!(config.get("template").map(String::as_str), Some("1"));
    assert_eq!(config.get("memory").map(String::as_str), Some("4096"));
    assert!(
        config
            .values()
            .any(|v| v.contains("iso/debian-12.9.0-amd64-netinst.iso")),
        "{config:?}"
    );
}

#[test]
fn import_qcow2_template_uploads_and_imports_the_image() {
    let sim = TestSim::demo();
    let file = sim.home.path().join("disk.qcow2");
    std::fs::write(&file, vec![0u8; 1 << 20]).unwrap();
    run_audited(
        &sim,
        &format!(
            "runbook run import-qcow2-template file={} name=rb-img vmid=810 cores=4",
            file.display()
        ),
        0,
    );
    let (vmid, config) = config_of(&sim, "rb-img").expect("the template exists");
    assert_eq!(vmid, 810);
    assert_eq!(config.get("template").map(String::as_str), Some("1"));
    assert_eq!(config.get("cores").map(String::as_str), Some("4"));
    assert!(config["scsi0"].starts_with("local-lvm:"), "{config:?}");
    assert!(!config["scsi0"].contains("import-from"), "{config:?}");
    let uploaded = state(&sim, |s| {
        s.volumes
            .iter()
            .any(|v| v.volid == "local:import/rb-img.qcow2")
    });
    assert!(uploaded, "the image is on local");
}

#[test]
fn rolling_restart_snapshots_then_reboots_one_guest_at_a_time() {
    let sim = TestSim::demo();
    runners_on_loopback(&sim);
    let port = ssh_greeter();
    let (_, err) = run_audited(
        &sim,
        &format!("runbook run rolling-restart tag=ci ssh_port={port} timeout=10"),
        0,
    );
    for vmid in [110, 111, 112] {
        assert_eq!(snapshot_names(&sim, vmid), vec!["pre-restart"], "{vmid}");
    }
    let done = reboots(&sim);
    let order: Vec<u32> = done.iter().map(|r| r.0).collect();
    assert_eq!(order, vec![110, 111, 112], "{err}");
    for pair in done.windows(2) {
        assert!(
            pair[1].1 >= pair[0].2,
            "{} rebooted before {} was back: {done:?}",
            pair[1].0,
            pair[0].0
        );
    }
    // Each guest answered SSH before the next one rebooted.
    let first_wait = err.find("  > wait-ssh 110").unwrap();
    let second_reboot = err.find("  > reboot 111").unwrap();
    assert!(first_wait < second_reboot, "{err}");
    assert!(err.contains("step 3/3 guest 2/3: 111\n"), "{err}");
    assert!(err.contains("SSH-2.0-OpenSSH_9.2p1"), "{err}");
}

#[test]
fn rolling_restart_stops_at_a_guest_that_does_not_come_back() {
    let sim = TestSim::demo();
    runners_on_loopback(&sim);
    // Nothing listens on the port: the first guest's health wait fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, err) = run_audited(
        &sim,
        &format!("runbook run rolling-restart tag=ci ssh_port={closed} timeout=0"),
        1,
    );
    assert!(
        err.contains("step 3/3 (Reboot one at a time, waiting for each) failed at `wait-ssh 110"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "`runbook run rolling-restart tag=ci ssh_port={closed} timeout=0 --from 3`"
        )),
        "{err}"
    );
    let order: Vec<u32> = reboots(&sim).iter().map(|r| r.0).collect();
    assert_eq!(order, vec![110], "only the first guest rebooted");
}

#[test]
fn patch_window_snapshots_all_then_reboots_in_batches() {
    let sim = TestSim::demo();
    let (out, err) = run_audited(&sim, "runbook run patch-window select=@tag:ci batch=2", 0);
    assert!(err.contains("step 2/2 batch 1/2: 110 111\n"), "{err}");
    assert!(err.contains("step 2/2 batch 2/2: 112\n"), "{err}");
    assert!(out.contains("2 run(s), 6 line(s)"), "{out}");
    for vmid in [110, 111, 112] {
        assert_eq!(snapshot_names(&sim, vmid), vec!["patch-window"], "{vmid}");
    }
    let done = reboots(&sim);
    let vmids: Vec<u32> = done.iter().map(|r| r.0).collect();
    assert_eq!(vmids.len(), 3, "{done:?}");
    // The second batch started after both guests of the first were done.
    let last = done.iter().find(|r| r.0 == 112).unwrap();
    for first in done.iter().filter(|r| r.0 != 112) {
        assert!(last.1 >= first.2, "{done:?}");
    }
}

const THREE_SNAPSHOTS: &str = "---
name: three-snapshots
description: three snapshots, one per step
params:
  second:
    type: string
    default: web02
---

## Snapshot web01

```pvesh
snapshot s1 web01
```

## Snapshot the second guest

```pvesh
snapshot s2 {{second}}
```

## Snapshot web01 again

```pvesh
snapshot s3 web01
```
";

#[test]
fn a_failing_step_stops_the_run_and_from_resumes_it() {
    let sim = TestSim::demo();
    user_runbook(&sim, "three-snapshots", THREE_SNAPSHOTS);
    // web02 has an s2 already: step 2 fails.
    run_audited(&sim, "snapshot s2 web02", 0);
    // The snapshot's task fails: exit 3, as the line alone exits.
    let (out, err) = run_audited(&sim, "runbook run three-snapshots", 3);
    assert!(
        err.contains("step 2/3 (Snapshot the second guest) failed at `snapshot s2 web02`"),
        "{err}"
    );
    assert!(
        err.contains("resume: `runbook run three-snapshots --from 2`"),
        "{err}"
    );
    assert!(out.contains("Snapshot web01 again       not run"), "{out}");
    assert!(err.contains("outcome=failed"), "{err}");
    // The runbook's own snapshots (web01 has others from the demo).
    let ours = |vmid: u32| -> Vec<String> {
        snapshot_names(&sim, vmid)
            .into_iter()
            .filter(|n| ["s1", "s2", "s3"].contains(&n.as_str()))
            .collect()
    };
    assert_eq!(ours(101), vec!["s1"], "step 3 did not run");
    // The cause fixed, the run resumes at step 2: step 1 is not run again (s1 would fail).
    run_audited(&sim, "delsnapshot s2 web02; commit", 0);
    let (out, _) = run_audited(&sim, "runbook run three-snapshots --from 2", 0);
    assert!(out.contains("skipped  before --from"), "{out}");
    assert_eq!(ours(101), vec!["s1", "s3"]);
    assert_eq!(ours(102), vec!["s2"]);
    let (_, err) = run_audited(&sim, "runbook run three-snapshots --from 4", 2);
    assert!(
        err.contains("--from takes a step number from 1 to 3"),
        "{err}"
    );
}

#[test]
fn dry_run_shows_the_plan_and_changes_nothing() {
    let sim = TestSim::demo();
    let sent = sim.handle.mutating_count();
    let (out, err) = run_audited(&sim, "runbook run rolling-restart tag=ci --dry-run", 0);
    assert_eq!(sim.handle.mutating_count(), sent);
    assert!(out.contains("snapshot pre-restart @tag:ci"), "{out}");
    assert!(
        err.contains(
            "   for each guest of: ls | where tags has ci and status=running\n   one guest at a time; now 110 111 112:\n"
        ),
        "{err}"
    );
    assert!(err.contains("dry run: nothing ran"), "{err}");
    assert!(reboots(&sim).is_empty());
}

#[test]
fn missing_unknown_and_bad_parameters_are_usage_errors_naming_them() {
    let sim = TestSim::demo();
    let (_, err) = run_audited(&sim, "runbook run patch-window select=@tag:ci", 2);
    assert!(
        err.contains("runbook patch-window needs a value for parameter (no default): batch"),
        "{err}"
    );
    assert!(
        err.contains("`runbook run patch-window batch=...`"),
        "{err}"
    );
    let (_, err) = run_audited(
        &sim,
        "runbook run patch-window select=@tag:ci batch=2 size=3",
        2,
    );
    assert!(
        err.contains("runbook patch-window has no parameter 'size'"),
        "{err}"
    );
    assert!(
        err.contains("its parameters: select, batch, snapshot"),
        "{err}"
    );
    let (_, err) = run_audited(&sim, "runbook run patch-window select=@tag:ci batch=0", 2);
    assert!(
        err.contains("parameter 'batch' must be a whole number from 1 to 64, got '0'"),
        "{err}"
    );
    let (_, err) = run_audited(&sim, "runbook run patch-window select=ci batch=2", 2);
    assert!(
        err.contains("parameter 'select' must be text matching"),
        "{err}"
    );
    let (_, err) = run_audited(&sim, "runbook run no-such-book", 1);
    assert!(err.contains("no runbook 'no-such-book'"), "{err}");
}

#[test]
fn a_user_runbook_replaces_a_shipped_one_and_says_so() {
    let sim = TestSim::demo();
    user_runbook(
        &sim,
        "rolling-restart",
        "---\nname: rolling-restart\ndescription: my own\n---\n## Look\n```pvesh\nnodes\n```\n",
    );
    let (out, err) = run_audited(&sim, "runbook ls", 0);
    assert!(
        err.contains("runbook rolling-restart: ~/config/pvesh-plus/runbooks/rolling-restart.md replaces runbooks/rolling-restart.md"),
        "{err}"
    );
    assert!(out.contains("my own"), "{out}");
    assert!(out.contains("create-cloudinit-template"), "{out}");
    let (out, _) = run_audited(&sim, "runbook show rolling-restart", 0);
    assert!(out.contains("rolling-restart: my own"), "{out}");
}

#[test]
fn a_broken_runbook_is_named_by_file_and_line() {
    let sim = TestSim::demo();
    user_runbook(
        &sim,
        "broken",
        "---\nname: broken\ndescription: d\nparams:\n  n:\n    type: int\n    default: many\n---\n## A\n```pvesh\nstatus\n```\n",
    );
    let (_, err) = run_audited(&sim, "runbook show broken", 2);
    assert!(
        err.contains("broken.md:5: parameter `n`: its default must be a whole number, got 'many'"),
        "{err}"
    );
    // `ls` still lists the others, and says what is wrong with this one.
    let (out, err) = run_audited(&sim, "runbook ls", 0);
    assert!(err.contains("runbook broken cannot be used"), "{err}");
    assert!(out.contains("patch-window"), "{out}");
    user_runbook(
        &sim,
        "typo",
        "---\nname: typo\ndescription: d\n---\n## A\n```pvesh\nstauts web01\n```\n",
    );
    let (_, err) = run_audited(&sim, "runbook run typo", 2);
    assert!(
        err.contains("typo.md:7: 'stauts' is no pvesh+ command"),
        "{err}"
    );
}

#[test]
fn a_runbook_commit_refuses_to_apply_changes_staged_before_it() {
    let sim = TestSim::demo();
    let file = sim.home.path().join("stage.pve");
    std::fs::write(
        &file,
        "stop web01\nrunbook run create-iso-template name=x iso=debian-12.9.0-amd64-netinst.iso\n",
    )
    .unwrap();
    let sent = sim.handle.mutating_count();
    let out = sim
        .cmd()
        .args(["-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let (code, _, err) = crate::common::split(out);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("1 change(s) are pending from before, and runbook create-iso-template has a `commit` line"),
        "{err}"
    );
    assert_eq!(sim.handle.mutating_count(), sent);
}

/// On a terminal a missing parameter is asked through the wizard's prompter, checked by its
/// rule (a bad answer is asked again), and the run goes on with it.
#[test]
fn on_a_terminal_a_missing_parameter_is_asked() {
    let sim = TestSim::demo();
    let mut cmd = crate::common::std_cmd(sim.home.path());
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
        "-c",
        "runbook run patch-window select=@tag:ci",
    ])
    .env("PROXMOX_USER", "root@pam")
    .env("PROXMOX_PASSWORD", crate::common::PASSWORD)
    .env("TERM", "xterm");
    let mut p = crate::common::Pty::spawn(cmd, 20_000);
    p.exp_string("batch (guests rebooted at once)").unwrap();
    p.send_line("0").unwrap();
    p.exp_string("must be a whole number from 1 to 64, got '0'")
        .unwrap();
    p.send_line("3").unwrap();
    p.exp_string("step 2/2 batch 1/1: 110 111 112").unwrap();
    p.exp_string("runbook patch-window: all 2 steps done")
        .unwrap();
    p.exp_eof().unwrap();
    for vmid in [110, 111, 112] {
        assert_eq!(snapshot_names(&sim, vmid), vec!["patch-window"], "{vmid}");
    }
    assert_eq!(reboots(&sim).len(), 3);
}
