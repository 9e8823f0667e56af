//! Storage hygiene (issue 11) through the real binary against the simulator: `orphans` lists
//! what no guest config uses, `delete-volume` stages the deletions and `commit` removes them
//! from the simulator's state; a volume a guest still uses is refused before any request.

use crate::common::{TestSim, refused, run_audited as run, state};

fn has_volume(sim: &TestSim, volid: &str) -> bool {
    state(sim, |s| s.volumes.iter().any(|v| v.volid == volid))
}

#[test]
fn orphans_lists_ownerless_unreferenced_and_unused_volumes() {
    let sim = TestSim::demo();
    let (out, _) = run(&sim, "orphans", 0);
    assert!(out.contains("no guest 999"), "{out}");
    assert!(out.contains("not in 105's config"), "{out}");
    assert!(out.contains("unused0 of backup-proxy"), "{out}");
    // Disks in use are not listed.
    assert!(!out.contains("vm-101-disk-0"), "{out}");
    let (out, _) = run(&sim, "orphans fast-zfs", 0);
    assert!(!out.contains("local-lvm"), "{out}");
}

#[test]
fn delete_volume_stages_and_commit_removes_orphans_and_unused_disks() {
    let sim = TestSim::demo();
    refused(
        &sim,
        "delete-volume local-lvm:vm-101-disk-0",
        2,
        "Cannot remove image, a guest with VMID '101' exists!",
    );
    let sent = sim.handle.mutating_count();
    let (out, _) = run(&sim, "orphans local-lvm | delete-volume", 0);
    assert_eq!(sim.handle.mutating_count(), sent, "staging sends nothing");
    assert!(
        out.contains("delete-volume local-lvm:vm-999-disk-0"),
        "{out}"
    );
    assert!(out.contains("delete=unused0"), "{out}");
    assert!(has_volume(&sim, "local-lvm:vm-999-disk-0"));
    run(&sim, "commit", 0);
    for volid in [
        "local-lvm:vm-999-disk-0",
        "local-lvm:vm-105-disk-1",
        "local-lvm:vm-131-disk-1",
    ] {
        assert!(!has_volume(&sim, volid), "{volid} is still there");
    }
    let unused = state(&sim, |s| s.guests[&131].config.get("unused0").cloned());
    assert_eq!(unused, None, "the unused0 key went with its volume");
    let (out, _) = run(&sim, "orphans", 0);
    assert!(!out.contains("local-lvm:vm-"), "{out}");
}
