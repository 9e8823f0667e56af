//! The simulator's clocks and request observation, as tests use them: the logical clock makes
//! tasks end as the client polls them and makes runs repeatable; tests count the mutating
//! requests and wait for one without polling.

use pvesh_plus::sim::SimOptions;

use crate::common::{TestSim, split};

const SNAPSHOT: &str = "/nodes/{node}/qemu/{vmid}/snapshot";

#[test]
fn on_the_logical_clock_a_task_ends_as_it_is_polled_and_runs_repeat() {
    let run = || {
        let sim = TestSim::demo();
        let (code, _, err) = sim.run("snapshot clock1 web01");
        assert_eq!(code, 0, "{err}");
        let tasks = sim.handle.with_state(|s| {
            s.tasks
                .iter()
                .map(|t| (t.upid.clone(), t.finished.clone()))
                .collect::<Vec<_>>()
        });
        let log: Vec<String> = sim
            .handle
            .request_log()
            .iter()
            .map(|r| format!("{} {}", r.method, r.template))
            .collect();
        (tasks, log, sim.handle.now())
    };
    let first = run();
    assert!(
        first
            .0
            .iter()
            .any(|(upid, end)| upid.contains(":qmsnapshot:101:")
                && end.as_ref().is_some_and(|(_, exit)| exit == "OK")),
        "{:?}",
        first.0
    );
    assert_eq!(
        first,
        run(),
        "the same line gives the same tasks, requests and time"
    );
}

#[test]
fn on_the_manual_clock_only_advance_moves_time() {
    let sim = TestSim::start(SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    });
    let t0 = sim.handle.now();
    let (code, _, err) = sim.run("ls | count");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        sim.handle.now(),
        t0,
        "requests do not move the manual clock"
    );
    sim.handle.advance(5.0);
    assert_eq!(sim.handle.now(), t0 + 5);
}

#[test]
fn mutating_requests_are_counted_and_awaited_without_polling() {
    let sim = TestSim::demo();
    assert_eq!(sim.handle.mutating_count(), 0);
    let child = sim.spawn("snapshot seen1 web01");
    // Blocks on the simulator's notification until the snapshot request has been answered.
    let r = sim.wait_mutating(1, |r| r.method == "POST" && r.template == SNAPSHOT);
    assert_eq!(r.path, "/api2/json/nodes/pve1/qemu/101/snapshot");
    assert_eq!(r.status, 200);
    let (code, _, err) = split(child.wait_with_output().unwrap());
    assert_eq!(code, 0, "{err}");
    assert!(
        sim.handle
            .with_state(|s| s.guests[&101].snapshots.iter().any(|s| s.name == "seen1"))
    );
    let counts = sim.handle.mutating_counts();
    assert_eq!(
        counts.get(&("POST".to_string(), SNAPSHOT.to_string())),
        Some(&1)
    );
    assert_eq!(counts.values().sum::<usize>(), sim.handle.mutating_count());
    assert_eq!(
        sim.handle.mutating_requests().len(),
        sim.handle.mutating_count()
    );
    assert!(
        sim.handle
            .request_log()
            .iter()
            .any(|r| r.template == "/access/ticket"),
        "logins are requests, but not mutating ones"
    );
    assert!(!counts.keys().any(|(_, t)| t == "/access/ticket"));
}
