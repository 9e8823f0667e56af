//! Evacuation and balancing plans (issue 11) through the real binary: a dry run sends nothing,
//! the plan stages one migration per move, and after `commit` the node is empty in the
//! simulator except for what the plan said stays.

use crate::common::TestSim;

fn on_node(sim: &TestSim, node: &str) -> Vec<u32> {
    sim.wait_for_state(|s| {
        Some(
            s.guests
                .values()
                .filter(|g| g.node == node)
                .map(|g| g.vmid)
                .collect(),
        )
    })
}

#[test]
fn evacuate_dry_run_sends_nothing_and_the_plan_empties_the_node_at_commit() {
    let sim = TestSim::demo();
    let before = on_node(&sim, "pve3");
    assert!(!before.is_empty());
    let sent = sim.handle.mutating_count();
    let (code, out, err) = sim.run("evacuate pve3 --dry-run");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("running on local disks"), "{out}");
    assert!(err.contains("nothing staged, nothing sent"), "{err}");
    assert_eq!(sim.handle.mutating_count(), sent, "a dry run sends nothing");
    let (code, out, err) = sim.run("evacuate pve3 --with-local-disks; pending");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("6 of 6 guest(s) can move"), "{err}");
    assert_eq!(out.matches("migrate to pve").count(), 6, "{out}");
    assert_eq!(sim.handle.mutating_count(), sent, "staging sends nothing");
    let (code, out, err) = sim.run("commit");
    assert_eq!(code, 0, "{out}{err}");
    assert!(on_node(&sim, "pve3").is_empty(), "pve3 still holds guests");
}

#[test]
fn evacuate_says_what_stays_and_respects_to() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("evacuate pve1 --with-local-disks --to pve2 --dry-run");
    assert_eq!(code, 0, "{err}");
    // db01 is protected, the templates stay unless asked; everything else goes to pve2.
    assert!(out.contains("protected"), "{out}");
    assert!(out.contains("a template (--templates moves them)"), "{out}");
    assert!(!out.contains("pve3"), "--to pve2 only: {out}");
    let (code, _, err) = sim.run("evacuate pve1 --to pve1");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the node being emptied"), "{err}");
    let (code, _, err) = sim.run("evacuate pve7");
    assert_eq!(code, 1);
    assert!(err.contains("no node pve7"), "{err}");
}

#[test]
fn balance_evens_memory_and_says_when_there_is_nothing_to_do() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("balance --dry-run");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to do"), "{err}");
    let (code, out, err) = sim.run(
        "start dev-box; start dev-win11; start lab-k8s-03; balance --with-local-disks --max-moves 3; commit",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("staged"), "{err}");
    let pct = |node: &str| {
        sim.wait_for_state(|s| {
            let n = s.node(node)?;
            Some(s.node_mem(n) as f64 * 100.0 / n.maxmem as f64)
        })
    };
    let (a, b, c) = (pct("pve1"), pct("pve2"), pct("pve3"));
    let gap = a.max(b).max(c) - a.min(b).min(c);
    assert!(
        gap <= 10.5,
        "memory use after balancing: {a:.0}% {b:.0}% {c:.0}%"
    );
}

#[test]
fn maintenance_runs_ha_manager_on_the_node_over_ssh() {
    let sim = TestSim::demo();
    let path = crate::common::path_with_fake(&sim, "ssh", "echo \"ssh called: $*\"");
    let out = sim
        .cmd()
        .env("PATH", &path)
        .args(["-c", "maintenance pve1 on"])
        .output()
        .unwrap();
    let (code, stdout, stderr) = crate::common::split(out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "ssh called: -l root 10.0.0.11 ha-manager crm-command node-maintenance enable pve1"
    );
    assert!(
        stderr.contains("HA moves the 1 HA-managed guest(s) on pve1"),
        "{stderr}"
    );
    let (code, _, err) = sim.run("maintenance pve2 maybe");
    assert_eq!(code, 2, "{err}");
}

/// `ha-manager crm-command node-maintenance enable NODE` on the simulated node, as the
/// `maintenance` command runs it there over ssh.
fn maintenance(sim: &TestSim, node: &str, verb: &str) -> String {
    let argv: Vec<String> = ["ha-manager", "crm-command", "node-maintenance", verb, node]
        .iter()
        .map(|s| s.to_string())
        .collect();
    sim.handle.node_command(&argv).expect("the crm command")
}

#[test]
fn a_node_in_ha_maintenance_is_shown_and_takes_no_guests() {
    let sim = TestSim::demo();
    let ha_home = sim.wait_for_state(|s| Some(s.guests[&103].node.clone()));
    let said = maintenance(&sim, &ha_home, "enable");
    assert!(said.contains("moving 103"), "{said}");
    // The LRM row says so, as PVE's HA status does.
    let (code, out, err) = sim.run("get /cluster/ha/status/current | to json");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{ha_home} (maintenance mode, ")),
        "{out}"
    );
    // The HA-managed guest moved away; plans do not send anything back to the node.
    sim.handle.advance(600.0);
    let other = ["pve1", "pve2", "pve3"]
        .into_iter()
        .find(|n| *n != ha_home)
        .unwrap();
    let (code, out, err) = sim.run(&format!("evacuate {other} --with-local-disks --dry-run"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("in HA maintenance, so not a target: {ha_home}")),
        "{err}"
    );
    for row in out.lines().skip(1) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert!(
            !cols.contains(&ha_home.as_str()),
            "a move to {ha_home}: {row}"
        );
    }
    let (_, text, _) = sim.run("dashboard --once");
    assert!(text.contains("HA maintenance"), "{text}");
    maintenance(&sim, &ha_home, "disable");
    sim.handle.advance(600.0);
    assert!(on_node(&sim, &ha_home).contains(&103), "back home");
}

#[test]
fn maintenance_in_the_demo_runs_on_the_simulated_node() {
    let out = crate::common::bin()
        .args(["--demo", "-c", "maintenance pve1 on; dashboard --json"])
        .output()
        .unwrap();
    let (err, text) = (
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    assert!(out.status.success(), "{err}");
    assert!(err.contains("running on the simulated node"), "{err}");
    assert!(
        err.contains("enabled maintenance mode on node 'pve1'"),
        "{err}"
    );
    let json_at = text.find('{').expect("the dashboard's json");
    let d: serde_json::Value = serde_json::from_str(&text[json_at..]).unwrap();
    assert_eq!(d["nodes"][0]["node"], "pve1");
    assert_eq!(d["nodes"][0]["maintenance"], true, "{}", d["nodes"][0]);
}
