//! The executor against the embedded simulator: plan order per guest, the per-node bound, and
//! what a failure does with and without `keep_going`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::api::{Auth, ConnectOptions, GuestKind, TlsMode};
use crate::secret::Secret;
use crate::sim::{self, SimHandle, SimOptions};
use crate::staging::{ActionKind, Op, Precondition, Target};

/// The demo on the logical clock, and a root client of it (also for `commit_tests.rs`).
pub(in crate::staging) async fn connect() -> (SimHandle, Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let handle = sim::start(SimOptions {
        users: vec![("root@pam".into(), Secret::new("pw"))],
        ..SimOptions::logical()
    })
    .await
    .unwrap();
    let client = Client::connect(ConnectOptions {
        url: handle.url(),
        auth: Auth::Password {
            username: "root@pam".into(),
            password: Secret::new("pw"),
            otp: None,
        },
        tls: TlsMode::Fingerprint(handle.fingerprint()),
        timeout: Duration::from_secs(30),
        tfa: None,
    })
    .await
    .unwrap();
    (handle, client)
}

fn on(handle: &SimHandle, vmid: u32, kind: ActionKind, snap: &str) -> Action {
    let node = handle.with_state(|s| s.guests.get(&vmid).unwrap().node.clone());
    let name = snap.to_string();
    let op = match kind {
        ActionKind::Snapshot => Op::Snapshot {
            name,
            vmstate: false,
            description: None,
        },
        ActionKind::Delsnapshot => Op::Delsnapshot { name },
        ActionKind::Rollback => Op::Rollback { name, start: false },
        other => Op::power(other).unwrap(),
    };
    Action::new(
        op,
        Target {
            vmid,
            node: node.clone(),
            guest_kind: GuestKind::Qemu,
            name: vmid.to_string(),
        },
        Precondition {
            digest: None,
            node,
            status: "running".into(),
        },
    )
}

async fn run(client: &Client, actions: Vec<Action>, opts: ExecOptions) -> Vec<ItemOutcome> {
    let audit = Arc::new(AuditLog::new(None, "test", "root@pam"));
    Executor::new(client.clone(), audit)
        .run(actions, &HashMap::new(), &opts, &mut |_: &str| {})
        .await
}

fn opts(parallel: usize, keep_going: bool) -> ExecOptions {
    ExecOptions {
        parallel,
        keep_going,
        check_preconditions: false,
        ..ExecOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_on_one_guest_keep_their_order_and_nodes_their_bound() {
    let (handle, client) = connect().await;
    // Deleting a snapshot before it exists would fail: success shows the order was kept.
    let mut plan = Vec::new();
    for vmid in [101, 103, 106, 130] {
        plan.push(on(&handle, vmid, ActionKind::Snapshot, "ordered"));
        plan.push(on(&handle, vmid, ActionKind::Delsnapshot, "ordered"));
    }
    let per_node2 = ExecOptions {
        per_node: 2,
        ..opts(8, false)
    };
    let outcomes = run(&client, plan, per_node2).await;
    for o in &outcomes {
        assert!(
            o.outcome.is_done(),
            "{}: {:?}",
            o.action.summary(),
            o.outcome
        );
    }
    // All four guests live on pve1: at most two of their tasks ever overlapped.
    let spans: Vec<(f64, f64)> = handle.with_state(|s| {
        s.tasks
            .iter()
            .filter(|t| t.node == "pve1")
            .map(|t| (t.start_f, t.end_f))
            .collect()
    });
    assert_eq!(spans.len(), 8);
    let most = spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= 2, "{most} tasks overlapped on one node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_stops_new_launches_unless_keep_going() {
    let (handle, client) = connect().await;
    // 101 already has a snapshot named `pre-upgrade` in the demo: creating it again fails.
    let plan = || {
        vec![
            on(&handle, 101, ActionKind::Snapshot, "pre-upgrade"),
            on(&handle, 102, ActionKind::Snapshot, "fresh"),
        ]
    };
    let outcomes = run(&client, plan(), opts(1, false)).await;
    let labels: Vec<&str> = outcomes.iter().map(|o| o.outcome.label()).collect();
    assert_eq!(labels, ["failed", "not run"]);
    assert!(
        matches!(&outcomes[1].outcome, Outcome::NotStarted { .. }),
        "{:?}",
        outcomes[1].outcome
    );
    assert!(
        outcomes[0].outcome.detail().contains("already used"),
        "{}",
        outcomes[0].outcome.detail()
    );
    let outcomes = run(&client, plan(), opts(1, true)).await;
    let labels: Vec<&str> = outcomes.iter().map(|o| o.outcome.label()).collect();
    assert_eq!(labels, ["failed", "done"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_timer_rolls_back_an_expired_window() {
    use crate::staging::{ConfirmPlan, ConfirmWindow, spawn_confirm_timer};
    let (handle, client) = connect().await;
    let snap = on(&handle, 101, ActionKind::Snapshot, "pvesh-confirm-1");
    let stop = Action::new(Op::Stop, snap.target.clone(), snap.precondition.clone());
    let target = snap.target.clone();
    let outcomes = run(&client, vec![snap, stop], opts(1, false)).await;
    assert!(outcomes.iter().all(|o| o.outcome.is_done()));
    assert!(!handle.with_state(|s| s.guests.get(&101).unwrap().is_running()));

    let window: crate::staging::ConfirmSlot = Arc::new(ConfirmWindow::default());
    window
        .open(ConfirmPlan {
            deadline: 0,
            snapname: "pvesh-confirm-1".into(),
            guests: vec![(target, true)],
        })
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let notify: crate::staging::Notify = Arc::new(move |line: &str| {
        let _ = tx.send(line.to_string());
    });
    let audit = Arc::new(AuditLog::new(None, "test", "root@pam"));
    spawn_confirm_timer(
        Executor::new(client.clone(), audit),
        window.clone(),
        0,
        notify,
    );
    let mut seen = Vec::new();
    while let Some(line) = rx.recv().await {
        let done = line.contains("rollback finished") || line.contains("could not be rolled back");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(seen[0].contains("ROLLING BACK"), "{seen:#?}");
    assert!(
        seen.last().unwrap().contains("rollback finished"),
        "{seen:#?}"
    );
    assert!(window.peek().is_none(), "the window is closed");
    assert!(
        handle.with_state(|s| s.guests.get(&101).unwrap().is_running()),
        "restarted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_onto_a_vmid_waits_for_the_destroy_of_that_vmid() {
    let (handle, client) = connect().await;
    // A stopped VM on pve1 to rebuild from the template in its place, as `profile rebuild` does.
    let (victim, victim_node) = handle.with_state(|s| {
        s.guests
            .values()
            .find(|g| !g.is_running() && !g.is_template() && g.vmid < 200)
            .map(|g| (g.vmid, g.node.clone()))
            .unwrap()
    });
    let template = |newid: u32| {
        Action::new(
            Op::Clone {
                newid,
                name: format!("rebuilt-{newid}"),
                full: false,
                target_node: None,
                storage: None,
                pool: None,
            },
            Target {
                vmid: 9000,
                node: "pve1".into(),
                guest_kind: GuestKind::Qemu,
                name: "debian-12-cloud".into(),
            },
            Precondition {
                digest: None,
                node: "pve1".into(),
                status: "stopped".into(),
            },
        )
    };
    let destroy = Action::new(
        Op::Destroy {
            purge: true,
            unreferenced_disks: false,
        },
        Target {
            vmid: victim,
            node: victim_node.clone(),
            guest_kind: GuestKind::Qemu,
            name: victim.to_string(),
        },
        Precondition {
            digest: None,
            node: victim_node,
            status: "stopped".into(),
        },
    );
    // The clone onto the victim's VMID comes after another clone of the same template: it
    // must wait for both that clone (the template's chain) and the destroy (the VMID's).
    let plan = vec![destroy, template(600), template(victim)];
    let outcomes = run(&client, plan, opts(4, false)).await;
    for o in &outcomes {
        assert!(
            o.outcome.is_done(),
            "{}: {:?}",
            o.action.summary(),
            o.outcome
        );
    }
    // Had the clone run before the destroy ended, PVE would have refused it ("config file
    // already exists"), and the guest would not carry the clone's name.
    let name = handle.with_state(|s| s.guests[&victim].name().to_string());
    assert_eq!(name, format!("rebuilt-{victim}"));
}
