//! `new --lxc` through the binary against the simulator: the container matches the flags, a
//! failure injected mid-way leaves nothing behind, `--dry-run` sends no mutating request, and
//! bad flags are refused before anything changes; the scripted wizard builds what it was told.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pvesh_plus::sim::Faults;
use pvesh_plus::wizard::lxc::{self, LxcOutcome};
use pvesh_plus::wizard::provision::BuildOptions;
use pvesh_plus::wizard::{ScriptedPrompter, settings};

use crate::common::TestSim;

/// The config and status of the container named `name`, if there is one.
fn container(
    sim: &TestSim,
    name: &str,
) -> Option<(u32, indexmap::IndexMap<String, String>, String)> {
    sim.handle.with_state(|s| {
        s.guests
            .values()
            .find(|g| g.cfg("hostname") == Some(name))
            .map(|g| (g.vmid, g.config.to_map(), g.status.to_string()))
    })
}

#[test]
fn a_container_matches_the_flags() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run(
        "new ct01 --lxc --template ubuntu-24.04 --cores 2 --memory 2G --disk 10G --ip 10.0.5.30/24 --gw 10.0.5.1",
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("ssh root@10.0.5.30"), "{out}");
    let (vmid, config, status) = container(&sim, "ct01").expect("the container exists");
    assert_eq!(status, "running");
    let check =
        |k: &str, want: &str| assert_eq!(config.get(k).map(String::as_str), Some(want), "{k}");
    check("cores", "2");
    check("memory", "2048");
    check("unprivileged", "1");
    check("ostype", "ubuntu");
    let rootfs = &config["rootfs"];
    assert!(
        rootfs.starts_with(&format!("local-lvm:vm-{vmid}-disk-0")) && rootfs.ends_with("size=10G"),
        "{rootfs}"
    );
    let net0 = &config["net0"];
    assert!(
        net0.starts_with("name=eth0,bridge=vmbr0,ip=10.0.5.30/24,gw=10.0.5.1,hwaddr="),
        "{net0}"
    );
    assert_eq!(sim.handle.count("POST", "/nodes/{node}/lxc"), 1);
}

#[test]
fn a_failure_mid_way_leaves_nothing_behind() {
    let check = |task: &str, step: &str| {
        let sim = TestSim::demo();
        let before = sim.handle.with_state(|s| (s.guests.len(), s.volumes.len()));
        sim.handle.set_faults(Faults {
            fail_tasks: Some(task.into()),
            ..Faults::default()
        });
        let (code, out, err) = sim.run("new ct02 --lxc");
        assert_ne!(code, 0, "{task}: {out}");
        assert!(
            err.contains(&format!("building ct02 failed at step '{step}'")),
            "{task}: {err}"
        );
        assert!(err.contains("nothing was left behind"), "{task}: {err}");
        assert!(
            container(&sim, "ct02").is_none(),
            "{task}: the container is left behind"
        );
        let after = sim.handle.with_state(|s| (s.guests.len(), s.volumes.len()));
        assert_eq!(after, before, "{task}: guests or volumes left behind");
    };
    check("vzcreate", "create");
    check("vzstart", "start");
}

#[test]
fn dry_run_changes_nothing() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("new ct03 --lxc --cores 2 --dry-run");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("debian-12-standard"), "{out}");
    assert_eq!(
        sim.handle.mutating_count(),
        0,
        "{:?}",
        sim.handle.request_log()
    );
    assert!(container(&sim, "ct03").is_none());
}

#[test]
fn bad_flags_are_refused_before_anything_changes() {
    let sim = TestSim::demo();
    let check = |line: &str, want: &str| {
        let (code, out, err) = sim.run(line);
        assert_ne!(code, 0, "{line}: {out}");
        assert!(err.contains(want), "{line}: {err}");
    };
    check("new --lxc", "needs a terminal");
    check("new ct04 --lxc --ip 10.0.5.300/24", "10.0.5.300");
    check("new ct04 --lxc --gw 10.0.5.1", "--gw needs --ip");
    check(
        "new ct04 --lxc --template alpine",
        "no container template archive 'alpine'",
    );
    check("new ct04 --lxc --iso", "--iso does not apply to new --lxc");
    check("new ct04 --storage local-lvm", "--storage goes with --lxc");
    assert_eq!(sim.handle.mutating_count(), 0);
}

const CT05: &[&str] = &[
    "ubuntu-24.04-standard_24.04-2_amd64.tar.zst", // template archive
    "ct05",                                        // host name
    "pve2",                                        // node
    "2",                                           // cores
    "",                                            // memory: 1G
    "12G",                                         // root disk
    "static",                                      // network
    "10.0.5.40/24",                                // ip
    "10.0.5.1",                                    // gateway
    "",                                            // ssh keys: the config's
    "",                                            // start: yes
    "yes",                                         // build it
];

#[test]
fn a_scripted_wizard_builds_the_container_its_answers_describe() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let mut ctx = crate::wizard::ctx(&sim);
    let spec = lxc::load_spec().unwrap();
    let mut p = ScriptedPrompter::new(CT05.iter().copied());
    let opts = BuildOptions {
        task_timeout: Duration::from_secs(60),
        agent_timeout: Duration::from_secs(30),
    };
    let out = sim
        ._runtime
        .block_on(lxc::run_wizard(
            &mut ctx, &spec, &config, &mut p, false, &opts,
        ))
        .unwrap();
    assert_eq!(p.remaining(), 0, "unused answers");
    let LxcOutcome::Built(plan, built) = out else {
        panic!("not built")
    };
    assert_eq!(built.ip.as_deref(), Some("10.0.5.40"));
    assert_eq!(plan.node, "pve2");
    let (_, config, status) = container(&sim, "ct05").expect("the container exists");
    assert_eq!(status, "running");
    assert_eq!(config["cores"], "2");
    assert_eq!(config["memory"], "1024");
    assert_eq!(config["ostype"], "ubuntu");
    assert!(
        config["rootfs"].ends_with("size=12G"),
        "{}",
        config["rootfs"]
    );
    assert!(
        config["net0"].contains("ip=10.0.5.40/24,gw=10.0.5.1"),
        "{}",
        config["net0"]
    );
}
