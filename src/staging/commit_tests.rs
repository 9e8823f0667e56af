//! Units at commit: which incomplete units roll back and what they destroy (pure), and a
//! commit against the embedded simulator that rolls a unit's clone back.

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::sim::SimHandle;
use crate::staging::executor::tests::connect;
use crate::staging::{ConfigChange, StagingState};

const UNIT: &str = "apply g.yaml";

fn guest(vmid: u32, name: &str) -> Target {
    Target {
        vmid,
        node: "pve1".into(),
        guest_kind: GuestKind::Qemu,
        name: name.into(),
    }
}

fn clone_to(newid: u32, name: &str) -> Action {
    Action::on(
        Op::Clone {
            newid,
            name: name.into(),
            full: false,
            target_node: None,
            storage: None,
            pool: None,
        },
        guest(9000, "debian-12-cloud"),
        "stopped",
    )
}

fn set_on(vmid: u32, name: &str) -> Action {
    let change = ConfigChange::of([("cores".to_string(), "2".to_string())]);
    Action::on(Op::Set(change), guest(vmid, name), "stopped")
}

fn outcome(action: Action, outcome: Outcome) -> ItemOutcome {
    ItemOutcome {
        action,
        outcome,
        upid: None,
        seconds: 0.0,
    }
}

fn done() -> Outcome {
    Outcome::Done {
        detail: "OK".into(),
    }
}

fn failed() -> Outcome {
    Outcome::Failed {
        error: "boom".into(),
    }
}

fn live(vmids: &[u32]) -> HashMap<u32, LiveGuest> {
    vmids
        .iter()
        .map(|v| {
            let g = LiveGuest {
                node: "pve1".into(),
                status: "running".into(),
            };
            (*v, g)
        })
        .collect()
}

#[test]
fn an_incomplete_unit_rolls_back_what_it_created_never_what_existed() {
    let before = live(&[9000, 101, 250]);
    let outcomes = vec![
        outcome(clone_to(300, "a").in_unit(UNIT), done()),
        outcome(set_on(300, "a").in_unit(UNIT), done()),
        outcome(set_on(101, "web01").in_unit(UNIT), done()),
        // Failed, its VMID free before: maybe half done, so a candidate.
        outcome(clone_to(301, "b").in_unit(UNIT), failed()),
        // Failed on a VMID that existed before the commit: never ours.
        outcome(clone_to(250, "c").in_unit(UNIT), failed()),
        outcome(
            set_on(302, "d").in_unit(UNIT),
            Outcome::NotStarted { reason: "x".into() },
        ),
        // Not started: it created nothing.
        outcome(
            clone_to(303, "e").in_unit(UNIT),
            Outcome::NotStarted { reason: "x".into() },
        ),
        // Outside the unit.
        outcome(clone_to(304, "f"), done()),
    ];
    let units = incomplete_units(&outcomes, &before);
    assert_eq!(units.len(), 1);
    let u = &units[0];
    assert_eq!(u.unit, UNIT);
    let vmids: Vec<u32> = u.created.iter().map(|t| t.vmid).collect();
    assert_eq!(vmids, [300, 301]);
    assert_eq!(u.created[0].name, "a");
    assert_eq!(u.kept_changes, 1, "the set on web01 stays");
}

#[test]
fn complete_units_plain_actions_and_interrupted_runs_roll_nothing_back() {
    let before = live(&[9000]);
    let whole = vec![
        outcome(clone_to(300, "a").in_unit(UNIT), done()),
        outcome(set_on(300, "a").in_unit(UNIT), done()),
        outcome(clone_to(301, "b"), failed()),
    ];
    assert!(incomplete_units(&whole, &before).is_empty());
    let skipped = vec![
        outcome(clone_to(300, "a").in_unit(UNIT), done()),
        outcome(
            set_on(300, "a").in_unit(UNIT),
            Outcome::Skipped { reason: "x".into() },
        ),
    ];
    assert_eq!(incomplete_units(&skipped, &before).len(), 1);
    let interrupted = vec![
        outcome(clone_to(300, "a").in_unit(UNIT), done()),
        outcome(clone_to(301, "b").in_unit(UNIT), failed()),
        outcome(set_on(301, "b").in_unit(UNIT), Outcome::Interrupted),
    ];
    assert!(incomplete_units(&interrupted, &before).is_empty());
}

#[test]
fn the_rollback_reads_the_cluster_stops_running_guests_and_spares_strangers() {
    let unit = UnitRollback {
        unit: UNIT.into(),
        created: vec![
            guest(300, "a"),
            guest(301, "b"),
            guest(302, "c"),
            guest(303, "d"),
        ],
        kept_changes: 0,
    };
    let now = [
        json!({"vmid": 300, "name": "a", "node": "pve2", "type": "qemu", "status": "running"}),
        // A half-done clone has no name yet.
        json!({"vmid": 301, "node": "pve1", "type": "qemu", "status": "stopped"}),
        json!({"vmid": 302, "name": "other", "node": "pve1", "type": "qemu", "status": "stopped"}),
    ];
    let (actions, left) = destroy_actions(&unit, &now);
    let plan: Vec<(u32, String, String)> = actions
        .iter()
        .map(|a| (a.target.vmid, a.target.node.clone(), a.summary()))
        .collect();
    let destroy = "destroy --purge --unreferenced-disks".to_string();
    assert_eq!(
        plan,
        [
            (300, "pve2".to_string(), "stop".to_string()),
            (300, "pve2".to_string(), destroy.clone()),
            (301, "pve1".to_string(), destroy),
        ]
    );
    assert_eq!(left, [(302, "it is now 'other', not c".to_string())]);
}

fn live_of(handle: &SimHandle) -> HashMap<u32, LiveGuest> {
    handle.with_state(|s| {
        s.guests
            .values()
            .map(|g| {
                let l = LiveGuest {
                    node: g.node.clone(),
                    status: g.status.to_string(),
                };
                (g.vmid, l)
            })
            .collect()
    })
}

/// Stages a clone to 300 and one onto web01's VMID 101 (refused by PVE: it exists), in `unit`
/// or not, commits, and returns the report with the simulator.
async fn commit_two_clones(unit: Option<&str>) -> (SimHandle, StagingState, CommitReport) {
    let (handle, client) = connect().await;
    let mut staging = StagingState::in_memory("test");
    let tag = |a: Action| match unit {
        Some(u) => a.in_unit(u),
        None => a,
    };
    staging
        .stage(vec![
            tag(clone_to(300, "a")),
            tag(set_on(300, "a")),
            tag(clone_to(101, "b")),
            tag(set_on(101, "b")),
        ])
        .unwrap();
    let live = live_of(&handle);
    let report = staging
        .commit(&client, &live, &CommitOptions::default(), &mut |_: &str| {})
        .await
        .unwrap();
    (handle, staging, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_destroys_the_guests_its_unit_created() {
    let (handle, staging, report) = commit_two_clones(Some(UNIT)).await;
    let clone = &report.outcomes[2];
    assert!(
        clone
            .outcome
            .detail()
            .contains("unable to create VM 101: config file already exists"),
        "{:?}",
        clone.outcome
    );
    let (has300, web01) = handle.with_state(|s| {
        (
            s.guests.contains_key(&300),
            s.guests.get(&101).map(|g| g.name().to_string()),
        )
    });
    assert!(!has300, "the unit's clone was destroyed again");
    assert_eq!(
        web01.as_deref(),
        Some("web01"),
        "the guest that existed stays"
    );
    assert_eq!(
        report.rolled_back,
        [RolledBack {
            unit: UNIT.into(),
            destroyed: vec![300],
            left: Vec::new(),
            // The set on 101 waited for its clone: it did not start, and leaves the plan.
            dropped: 1,
        }]
    );
    let kinds: Vec<String> = report
        .rollback_outcomes
        .iter()
        .map(|o| format!("{} {}", o.action.target.vmid, o.outcome.label()))
        .collect();
    assert_eq!(kinds, ["300 done"]);
    assert_eq!(report.kept, 0);
    assert!(
        report.outcomes[3]
            .outcome
            .detail()
            .contains("left the plan"),
        "{:?}",
        report.outcomes[3].outcome
    );
    assert!(staging.buffer.is_empty(), "{:?}", staging.buffer.actions());
    let e = report.failure().unwrap();
    assert_eq!(e.kind, ErrorKind::Partial);
    assert!(
        e.message
            .contains("apply g.yaml was rolled back: destroyed the guest(s) it created: 300"),
        "{}",
        e.message
    );
    assert_eq!(report.table().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_without_a_unit_keeps_what_it_created() {
    let (handle, staging, report) = commit_two_clones(None).await;
    assert!(handle.with_state(|s| s.guests.contains_key(&300)));
    assert_eq!(
        report.kept, 1,
        "what did not start stays pending, as before"
    );
    assert_eq!(staging.buffer.len(), 1);
    assert!(report.rolled_back.is_empty());
    assert!(report.rollback_outcomes.is_empty());
    let e = report.failure().unwrap();
    assert!(!e.message.contains("rolled back"), "{}", e.message);
}

#[test]
fn a_buffer_saved_before_units_still_loads() {
    let plain = set_on(101, "web01");
    let text = serde_json::to_string(&plain).unwrap();
    assert!(!text.contains("unit"), "no unit, no field: {text}");
    let old: Action = serde_json::from_str(&text).unwrap();
    assert_eq!(old.unit, None);
    let tagged = serde_json::to_string(&plain.in_unit(UNIT)).unwrap();
    let back: Action = serde_json::from_str(&tagged).unwrap();
    assert_eq!(back.unit.as_deref(), Some(UNIT));
}
