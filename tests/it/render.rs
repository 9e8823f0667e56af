//! What is shown, through the real binary: one set of field types per record kind (`status`,
//! `config`, `snapshots`, `backups`, `ls` and raw `get` agree, in text and in `--json`), tables
//! that fit the terminal width, the pager, and progress lines.

use serde_json::Value as Json;

use crate::common::TestSim;

fn ok(sim: &TestSim, line: &str) -> String {
    let (code, out, err) = sim.run(line);
    assert_eq!(code, 0, "`{line}` failed: {err}");
    out
}

fn json(sim: &TestSim, line: &str) -> Json {
    let out = sim.cmd().args(["--json", "-c", line]).output().unwrap();
    assert!(out.status.success(), "{line}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value after `key:` in a `key: value` view.
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(str::trim)
}

#[test]
fn status_shows_cpu_and_tags_as_ls_does() {
    let sim = TestSim::demo();
    let status = ok(&sim, "status web01");
    assert_eq!(field(&status, "cpu"), Some("17.0%"), "{status}");
    assert_eq!(field(&status, "tags"), Some("prod, web"), "{status}");
    let ls = ok(&sim, "ls | where name=web01 | select cpu tags");
    assert!(ls.contains("17.0%") && ls.contains("prod, web"), "{ls}");
    // In JSON both give the fraction PVE sends and the tags as a list.
    let status = json(&sim, "status web01");
    let ls = json(&sim, "ls | where name=web01");
    assert_eq!(status["tags"], serde_json::json!(["prod", "web"]));
    assert_eq!(ls[0]["tags"], status["tags"]);
    assert_eq!(status["cpu"], ls[0]["cpu"]);
    assert!(status["cpu"].as_f64().unwrap() < 1.0, "{}", status["cpu"]);
}

#[test]
fn config_shows_each_property_once_and_typed() {
    let sim = TestSim::demo();
    let out = ok(&sim, "config web01");
    assert_eq!(field(&out, "boot"), None, "{out}");
    assert_eq!(field(&out, "boot.order"), Some("scsi0;ide2;net0"));
    assert_eq!(field(&out, "net0"), None, "{out}");
    assert_eq!(field(&out, "net0.bridge"), Some("vmbr0"));
    assert_eq!(field(&out, "meta.ctime"), Some("2025-11-27T19:00:00Z"));
    assert_eq!(field(&out, "memory"), Some("4.0 GiB"));
    assert_eq!(
        field(&out, "pending"),
        None,
        "no empty pending line:\n{out}"
    );
    assert!(!out.lines().any(|l| l.trim_end().ends_with(':')), "{out}");
    // The record keeps both forms for pipes and JSON.
    let j = json(&sim, "config web01");
    assert_eq!(j["boot"], "order=scsi0;ide2;net0");
    assert_eq!(j["boot.order"], "scsi0;ide2;net0");
    assert_eq!(j["meta.ctime"], 1764270000);
    assert_eq!(
        ok(&sim, "config web01 | get boot").trim(),
        "order=scsi0;ide2;net0"
    );
}

#[test]
fn a_containers_swap_is_a_size_in_config_and_in_raw_get() {
    let sim = TestSim::demo();
    let out = ok(&sim, "config dns01");
    assert_eq!(field(&out, "swap"), Some("512.0 MiB"), "{out}");
    let raw = ok(&sim, "get /nodes/pve1/lxc/200/config");
    assert_eq!(field(&raw, "swap"), Some("512.0 MiB"), "{raw}");
    let j = json(&sim, "get /nodes/pve1/lxc/200/config");
    assert_eq!(j["swap"], 512u64 << 20);
    // The status's swap is bytes, as PVE sends it there.
    let status = json(&sim, "status dns01");
    assert_eq!(status["maxswap"], 512u64 << 20);
}

#[test]
fn an_epoch_of_zero_shows_as_nothing() {
    let sim = TestSim::demo();
    sim.handle.with_state(|s| {
        for v in s.volumes.iter_mut().filter(|v| v.content == "backup") {
            v.ctime = 0;
        }
        let g = s.guests.get_mut(&101).unwrap();
        for snap in g.snapshots.iter_mut() {
            snap.snaptime = 0;
        }
    });
    let backups = ok(&sim, "backups");
    let snaps = ok(&sim, "snapshots web01");
    for out in [&backups, &snaps] {
        assert!(!out.contains("1970"), "{out}");
    }
    assert!(backups.contains("web01"), "{backups}");
    assert!(snaps.contains("pre-upgrade"), "{snaps}");
    let j = json(&sim, "backups");
    assert_eq!(j[0]["ctime"], Json::Null);
    let j = json(&sim, "snapshots web01");
    assert_eq!(j[0]["snaptime"], Json::Null);
}

/// `pvesh-plus -c LINE` with `COLUMNS` set (or unset), stdout piped.
fn at_columns(sim: &TestSim, columns: Option<&str>, args: &[&str]) -> String {
    let mut cmd = sim.cmd();
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    let out = cmd.args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ls_fits_80_columns_and_says_what_it_left_out() {
    let sim = TestSim::demo();
    let out = at_columns(&sim, Some("80"), &["-c", "ls"]);
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "{} chars: {line:?}", line.len());
    }
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header[..2], ["vmid", "name"], "{out}");
    assert!(
        !header.contains(&"type") && !header.contains(&"uptime"),
        "{out}"
    );
    assert_eq!(
        out.lines().last(),
        Some("(not shown: type uptime; `select` picks columns)")
    );
    // Piped output never has a value cut: whole names, and no `…`.
    assert!(
        out.contains("ubuntu-24.04-cloud") && !out.contains('…'),
        "{out}"
    );
    // Asking for the columns gets them.
    let picked = at_columns(&sim, Some("80"), &["-c", "ls | select vmid type uptime"]);
    assert!(picked.starts_with("vmid  type  uptime\n"), "{picked}");
}

#[test]
fn piped_output_without_columns_keeps_every_column_and_json_is_never_cut() {
    let sim = TestSim::demo();
    let out = at_columns(&sim, None, &["-c", "ls"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header.len(), 10, "{out}");
    assert!(!out.contains("not shown") && !out.contains('…'), "{out}");
    let narrow: Json =
        serde_json::from_str(&at_columns(&sim, Some("20"), &["--json", "-c", "ls"])).unwrap();
    let names: Vec<&str> = narrow
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"ubuntu-24.04-cloud"), "{names:?}");
    assert!(
        narrow
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g.as_object().unwrap().len() == 19),
        "every field of every guest"
    );
    let csv = at_columns(&sim, Some("20"), &["-c", "ls | to csv"]);
    assert!(
        csv.lines().next().unwrap().split(',').count() >= 19,
        "{csv}"
    );
}

/// `pvesh-plus ARGS` in a pseudo-terminal, with `PAGER` a fake program that says how many lines
/// it was given.
fn in_pty(sim: &TestSim, args: &[&str], extra_env: &[(&str, &str)]) -> crate::common::Pty {
    let path = crate::common::path_with_fake(
        sim,
        "fakepager",
        "n=$(wc -l); echo \"FAKE-PAGER got $n lines\"",
    );
    let mut cmd = crate::common::std_cmd(sim.home.path());
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
    ])
    .args(args)
    .env("PROXMOX_USER", "root@pam")
    .env("PROXMOX_PASSWORD", crate::common::PASSWORD)
    .env("TERM", "xterm")
    .env("PATH", path)
    .env("PAGER", "fakepager");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    crate::common::Pty::spawn(cmd, 20_000)
}

#[test]
fn long_output_on_a_terminal_goes_through_the_pager() {
    let sim = TestSim::demo();
    // `config web01` is taller than a 24-row screen.
    let mut p = in_pty(&sim, &["-c", "config web01"], &[]);
    let (_, found) = p.exp_regex("FAKE-PAGER got [0-9]+ lines").unwrap();
    let n: usize = found.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(n >= 24, "{found}");
    p.exp_eof().unwrap();
    // Short output is printed directly.
    let mut p = in_pty(&sim, &["-c", "version"], &[]);
    let before = p.exp_eof().unwrap();
    assert!(
        before.contains("release") && !before.contains("FAKE-PAGER"),
        "{before}"
    );
    // --no-pager, and PVESH_PLUS_PAGER=cat, print it directly.
    let mut p = in_pty(&sim, &["--no-pager", "-c", "config web01"], &[]);
    let before = p.exp_eof().unwrap();
    assert!(
        before.contains("boot.order") && !before.contains("FAKE-PAGER"),
        "{before}"
    );
    let mut p = in_pty(
        &sim,
        &["-c", "config web01"],
        &[("PVESH_PLUS_PAGER", "cat")],
    );
    let before = p.exp_eof().unwrap();
    assert!(
        before.contains("boot.order") && !before.contains("FAKE-PAGER"),
        "{before}"
    );
}

#[test]
fn piped_output_never_goes_through_the_pager() {
    let sim = TestSim::demo();
    let path = crate::common::path_with_fake(&sim, "fakepager", "echo FAKE-PAGER");
    let out = sim
        .cmd()
        .env("PATH", path)
        .env("PAGER", "fakepager")
        .args(["-c", "config web01"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("boot.order") && !text.contains("FAKE-PAGER"),
        "{text}"
    );
}
