//! Raw API writes through the real binary: `create`/`set`/`delete PATH k=v` run at once outside
//! guests and stage below them (no mutating request until `commit`), server validation errors
//! name the bad parameter, secrets never reach the screen or the audit log, creation obeys
//! `vmid_ranges` and `quotas`, and the examples of `help set`/`create`/`delete` run.

use crate::common::{TestSim, split};

fn description(sim: &TestSim, vmid: u32) -> Option<String> {
    sim.handle
        .with_state(|s| s.guests.get(&vmid)?.config.get("description").cloned())
}

fn has_snapshot(sim: &TestSim, vmid: u32, name: &str) -> bool {
    sim.handle.with_state(|s| {
        s.guests
            .get(&vmid)
            .is_some_and(|g| g.snapshots.iter().any(|x| x.name == name))
    })
}

fn audit_lines(sim: &TestSim) -> String {
    let path = sim.home.path().join("state/pvesh-plus/audit.jsonl");
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn create_outside_a_guest_runs_at_once_and_is_audited() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("create /pools poolid=x comment=raw");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(sim.handle.with_state(|s| s.pools.contains_key("x")));
    assert_eq!(sim.handle.count("POST", "/pools"), 1);
    let audit = audit_lines(&sim);
    assert!(
        audit.contains(r#""method":"POST","path":"/pools""#),
        "{audit}"
    );
    // Relative to `pwd`, and the answer flows on as records.
    let (code, out, err) = sim.run("get /pools poolid=x | get comment");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("raw"), "{out}");
}

#[test]
fn set_below_a_guest_stages_and_commit_applies_it() {
    let sim = TestSim::demo();
    let before = sim.handle.mutating_count();
    let (code, out, err) = sim.run("set /nodes/pve1/qemu/101/config description=staged-by-raw");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("staged"), "{err}");
    assert_eq!(sim.handle.mutating_count(), before, "nothing is sent");
    assert_ne!(description(&sim, 101).as_deref(), Some("staged-by-raw"));
    let (code, out, _) = sim.run("pending");
    assert_eq!(code, 0);
    assert!(
        out.contains("PUT /nodes/pve1/qemu/101/config description=staged-by-raw"),
        "{out}"
    );
    let (code, out, err) = sim.run("commit");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(description(&sim, 101).as_deref(), Some("staged-by-raw"));
    assert_eq!(
        sim.handle.count("PUT", "/nodes/{node}/qemu/{vmid}/config"),
        1
    );
}

#[test]
fn delete_below_a_guest_stages() {
    let sim = TestSim::demo();
    assert!(has_snapshot(&sim, 101, "pre-upgrade"));
    let before = sim.handle.mutating_count();
    let (code, _, err) = sim.run("delete /nodes/pve1/qemu/101/snapshot/pre-upgrade");
    assert_eq!(code, 0, "{err}");
    assert_eq!(sim.handle.mutating_count(), before);
    let (code, out, _) = sim.run("diff");
    assert_eq!(code, 0);
    assert!(
        out.contains("DELETE /nodes/pve1/qemu/101/snapshot/pre-upgrade"),
        "{out}"
    );
    let (code, out, err) = sim.run("commit");
    assert_eq!(code, 0, "{out}\n{err}");
    sim.handle.advance(60.0);
    assert!(!has_snapshot(&sim, 101, "pre-upgrade"));
}

#[test]
fn relative_paths_and_a_missing_guest() {
    let sim = TestSim::demo();
    let script = sim.home.path().join("rel.pvesh");
    std::fs::write(
        &script,
        "cd /nodes/pve1/qemu/101\nset ./config description=rel\n",
    )
    .unwrap();
    let (code, _, err) = split(sim.cmd().arg("-f").arg(&script).output().unwrap());
    // A batch that leaves changes pending exits 5 and keeps them.
    assert_eq!(code, 5, "{err}");
    let (_, out, _) = sim.run("pending");
    assert!(out.contains("/nodes/pve1/qemu/101/config"), "{out}");
    // A guest that is not on that node is refused before anything is staged or sent.
    let before = sim.handle.mutating_count();
    let (code, _, err) = sim.run("set /nodes/pve2/qemu/101/config description=x");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no qemu 101 on node pve2"), "{err}");
    assert!(err.contains("it is at /nodes/pve1/qemu/101"), "{err}");
    assert_eq!(sim.handle.mutating_count(), before);
}

#[test]
fn bad_parameters_show_the_server_message() {
    let sim = TestSim::demo();
    let check = |line: &str, expected: &[&str]| {
        let (code, out, err) = sim.run(line);
        assert_ne!(code, 0, "{line}: {out}");
        for part in expected {
            assert!(err.contains(part), "{line}: missing `{part}` in\n{err}");
        }
    };
    check(
        "create /pools poolid=bad..id",
        &["poolid: invalid format", "bad..id"],
    );
    check(
        "create /pools comment=x",
        &["poolid", "property is missing"],
    );
    check(
        "create /pools poolid=x poolid=y",
        &["parameter 'poolid' is given twice"],
    );
    check(
        "create /pools --poolid x",
        &["create has no flag '--poolid'"],
    );
    check(
        "set /nodes/pve1/qemu/101/config extra words",
        &["'extra' is neither"],
    );
}

#[test]
fn staged_writes_are_checked_against_the_schema_first() {
    let sim = TestSim::demo();
    let check = |line: &str, expected: &str| {
        let (code, out, err) = sim.run(line);
        assert_ne!(code, 0, "{line}: {out}");
        assert!(err.contains(expected), "{line}: {err}");
    };
    check(
        "set /nodes/pve1/qemu/101/config bogus=1 net0=virtio,bridge=vmbr0",
        "has no parameter 'bogus'",
    );
    check("create /nodes/pve1/qemu/101/snapshot", "needs snapname=...");
    check(
        "set /nodes/pve1/qemu/101/status/start",
        "takes no PUT; it takes POST",
    );
    check("delete /nodes/pve1/qemu/101/nosuch", "is not in the API");
    let (_, out, _) = sim.run("pending");
    assert!(!out.contains("/nodes/"), "nothing was staged: {out}");
    // `net0` is an instance of the schema's `net[n]`.
    let (code, _, err) = sim.run("set /nodes/pve1/qemu/101/config net1=virtio,bridge=vmbr0");
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_bad_staged_parameter_fails_at_commit_with_its_message() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("set /nodes/pve1/qemu/101/config cores=abc");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sim.run("commit");
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(
        err.contains("cores: type check ('integer') failed"),
        "{err}"
    );
}

#[test]
fn secrets_are_redacted_in_pending_and_the_audit_log() {
    let sim = TestSim::demo();
    let (code, _, err) =
        sim.run("set /nodes/pve1/qemu/101/config cipassword=hunter2-secret description=x");
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = sim.run("pending --json");
    let (_, diff, _) = sim.run("diff");
    let (_, commit_out, commit_err) = sim.run("commit");
    for text in [&out, &diff, &commit_out, &commit_err, &audit_lines(&sim)] {
        assert!(!text.contains("hunter2-secret"), "{text}");
    }
    assert!(diff.contains("cipassword=<redacted>"), "{diff}");
}

#[test]
fn protected_guests_refuse_raw_writes() {
    let sim = TestSim::demo();
    sim.handle.with_state(|s| {
        if let Some(g) = s.guests.get_mut(&101) {
            g.config.insert("protection".into(), "1".into());
        }
    });
    let before = sim.handle.mutating_count();
    let (code, _, err) = sim.run("delete /nodes/pve1/qemu/101");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("protection"), "{err}");
    assert_eq!(sim.handle.mutating_count(), before);
}

#[test]
fn creation_obeys_vmid_ranges_and_quotas() {
    let sim = TestSim::demo();
    let config = sim.home.path().join("cluster-config.yaml");
    std::fs::write(
        &config,
        "vmid_ranges:\n  vm: [100, 199]\n  ct: [200, 299]\nquotas:\n  max_vms: 100\n  max_cores: 4\n",
    )
    .unwrap();
    let run = |line: &str| {
        split(
            sim.cmd()
                .arg("--config")
                .arg(&config)
                .args(["-c", line])
                .output()
                .unwrap(),
        )
    };
    let before = sim.handle.mutating_count();
    let check = |line: &str, rule: &str| {
        let (code, _, err) = run(line);
        assert_eq!(code, 4, "{line}: {err}");
        assert!(err.contains(rule), "{line}: {err}");
    };
    check("create /nodes/pve1/qemu vmid=250", "vmid_ranges.vm");
    check(
        "create /nodes/pve1/lxc vmid=150 ostemplate=x",
        "vmid_ranges.ct",
    );
    check(
        "create /nodes/pve1/qemu/101/clone newid=260",
        "vmid_ranges.vm",
    );
    check(
        "create /nodes/pve1/qemu vmid=150 cores=8",
        "quotas.max_cores",
    );
    check(
        "set /nodes/pve1/qemu/101/config cores=16",
        "quotas.max_cores",
    );
    assert_eq!(sim.handle.mutating_count(), before, "nothing was sent");
    // max_vms: the demo cluster already holds more guests than this quota allows.
    std::fs::write(&config, "quotas:\n  max_vms: 3\n").unwrap();
    check("create /nodes/pve1/qemu vmid=150", "quotas.max_vms");
    check(
        "create /nodes/pve1/qemu/101/clone newid=151",
        "quotas.max_vms",
    );
    assert_eq!(sim.handle.mutating_count(), before, "nothing was sent");
}

#[test]
fn help_set_shows_both_forms_and_every_example_runs() {
    let sim = TestSim::demo();
    let (code, out, _) = sim.run("help set");
    assert_eq!(code, 0);
    assert!(out.contains("set memory=8G web01"), "{out}");
    assert!(out.contains("set /nodes/pve1/qemu/101/config"), "{out}");
    let mut ran = 0;
    for name in ["set", "create", "delete"] {
        let cmd = pvesh_plus::commands::find(name).unwrap();
        for example in cmd.sig.examples {
            let (code, _, err) = sim.run(example.line);
            assert_eq!(code, 0, "example `{}` failed: {err}", example.line);
            ran += 1;
        }
    }
    assert!(ran >= 7, "only {ran} examples");
    assert!(!sim.handle.with_state(|s| s.pools.contains_key("staging")));
}

#[test]
fn new_obeys_vmid_ranges_and_quotas() {
    let sim = TestSim::demo();
    let config = sim.home.path().join("cluster-config.yaml");
    let run = |yaml: &str, line: &str| {
        std::fs::write(&config, yaml).unwrap();
        split(
            sim.cmd()
                .arg("--config")
                .arg(&config)
                .args(["-c", line])
                .output()
                .unwrap(),
        )
    };
    let limits = "vmid_ranges:\n  vm: [100, 199]\nquotas:\n  max_cores: 4\n  max_memory: 8G\n  max_disk: 40G\n";
    let new = "new w1 --template debian-12-cloud --dry-run";
    let check = |yaml: &str, line: &str, rule: &str| {
        let (code, out, err) = run(yaml, line);
        assert_eq!(code, 4, "{line}: {out}\n{err}");
        assert!(err.contains(rule), "{line}: {err}");
    };
    let few = "quotas:\n  max_vms: 3\n";
    check(limits, &format!("{new} --vmid 250"), "vmid_ranges.vm");
    check(limits, &format!("{new} --cores 8"), "quotas.max_cores");
    check(limits, &format!("{new} --memory 16G"), "quotas.max_memory");
    check(limits, &format!("{new} --disk 100G"), "quotas.max_disk");
    check(few, new, "quotas.max_vms");
    let iso = "new w1 --dry-run --iso --image debian-12.9.0-amd64-netinst.iso";
    check(limits, &format!("{iso} --vmid 250"), "vmid_ranges.vm");
    check(limits, &format!("{iso} --cores 8"), "quotas.max_cores");
    check(limits, &format!("{iso} --memory 16G"), "quotas.max_memory");
    check(limits, &format!("{iso} --disk 100G"), "quotas.max_disk");
    check(few, iso, "quotas.max_vms");
    let (code, out, err) = run(limits, &format!("{new} --cores 4 --memory 8G"));
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn raw_writes_refuse_a_confirmed_commit() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("set /nodes/pve1/qemu/101/config description=x");
    assert_eq!(code, 0, "{err}");
    let before = sim.handle.mutating_count();
    let (code, _, err) = sim.run("commit --confirm 5m");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("cannot be undone by a snapshot"), "{err}");
    assert_eq!(sim.handle.mutating_count(), before);
}
