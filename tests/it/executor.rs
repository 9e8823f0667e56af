//! The one executor (issue 9): every mutating request pvesh+ sends — the four creation flows and
//! their rollbacks, raw writes, commits and a confirm window's snapshots and rollback — leaves
//! exactly one `call` line in the audit log, counted against the simulator's own count of the
//! mutating requests it received.

use pvesh_plus::sim::{Faults, SimOptions};

use crate::common::{TestSim, split};

fn audit(sim: &TestSim) -> Vec<serde_json::Value> {
    let path = sim.home.path().join("state/pvesh-plus/audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn calls(sim: &TestSim) -> Vec<serde_json::Value> {
    audit(sim)
        .into_iter()
        .filter(|l| l["event"] == "call")
        .collect()
}

/// Runs `line` and checks that the audit log grew by exactly as many `call` lines as the
/// simulator received mutating requests, and that it did grow.
fn check(sim: &TestSim, line: &str, expect_code: i32) -> Vec<serde_json::Value> {
    let before_calls = calls(sim).len();
    let before_sim = sim.handle.mutating_count();
    let (code, out, err) = if line.contains('\n') {
        let file = sim.home.path().join("script.pve");
        std::fs::write(&file, line).unwrap();
        split(sim.cmd().arg("-f").arg(&file).output().unwrap())
    } else {
        sim.run(line)
    };
    assert_eq!(code, expect_code, "{line}\n{out}\n{err}");
    let new: Vec<serde_json::Value> = calls(sim).split_off(before_calls);
    let sent = sim.handle.mutating_count() - before_sim;
    assert!(sent > 0, "{line} sent no mutating request");
    assert_eq!(
        new.len(),
        sent,
        "{line}: {sent} mutating requests, {} audit lines: {new:#?}",
        new.len()
    );
    new
}

fn actions(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_creation_flow_audits_each_call() {
    let sim = TestSim::demo();
    let vm = check(
        &sim,
        "new web09 --template debian-12-cloud --cores 2 --memory 2G --disk 16G",
        0,
    );
    assert_eq!(
        actions(&vm),
        ["clone", "set", "resize", "set", "start"],
        "{vm:#?}"
    );
    let ct = check(
        &sim,
        "new ct09 --lxc --template ubuntu-24.04 --cores 1 --memory 1G --disk 8G",
        0,
    );
    assert_eq!(actions(&ct), ["create", "start"]);
    let iso = check(
        &sim,
        "new inst09 --iso --image debian-12.9.0-amd64-netinst.iso",
        0,
    );
    assert_eq!(actions(&iso), ["create", "start"]);
    let tpl = check(
        &sim,
        "new-template https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2 tpl09",
        0,
    );
    assert_eq!(actions(&tpl), ["download", "create", "template"]);
    for l in vm.iter().chain(&ct).chain(&iso).chain(&tpl) {
        for field in ["time", "cluster", "user", "action", "path", "outcome"] {
            assert!(!l[field].is_null(), "{field} missing in {l}");
        }
    }
}

#[test]
fn a_failed_creation_audits_its_rollback() {
    let sim = TestSim::start(SimOptions {
        faults: Faults {
            fail_tasks: Some("qmstart".into()),
            ..Faults::default()
        },
        ..SimOptions::logical()
    });
    let lines = check(&sim, "new web08 --template debian-12-cloud", 1);
    let acts = actions(&lines);
    assert_eq!(acts.first().map(String::as_str), Some("clone"), "{acts:?}");
    assert_eq!(acts.last().map(String::as_str), Some("destroy"), "{acts:?}");
}

#[test]
fn raw_writes_commits_and_confirm_rollbacks_audit_each_call() {
    let sim = TestSim::demo();
    let raw = check(&sim, "create /pools poolid=audit9", 0);
    assert_eq!(actions(&raw), ["raw"]);
    check(
        &sim,
        "set /nodes/pve1/qemu/101/config description=x\ncommit\n",
        0,
    );
    // A confirmed commit left unconfirmed rolls back when the run ends: snapshot, stop,
    // rollback (with start), all through the executor.
    let lines = check(&sim, "stop web01\ncommit --confirm 5m\n", 3);
    assert_eq!(
        actions(&lines),
        ["snapshot", "stop", "rollback"],
        "{lines:#?}"
    );
}
