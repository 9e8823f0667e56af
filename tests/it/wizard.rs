//! `new`: scripted wizard runs against the simulator (the VM's config matches the answers), a
//! failure injected mid-provisioning (nothing left behind), validation of answers and flags,
//! `--dry-run` changing nothing, the non-interactive command through the binary, and the real
//! dialoguer wizard driven with arrow keys in a pseudo-terminal.

use std::time::Duration;

use pvesh_plus::commands::Ctx;
use pvesh_plus::config::Config;
use pvesh_plus::error::{Error, Result};

use pvesh_plus::sim::Faults;
use pvesh_plus::wizard::engine::{Answers, DefaultsOnly};
use pvesh_plus::wizard::new::{self as flow, NewOptions, NewOutcome};
use pvesh_plus::wizard::provision::BuildOptions;
use pvesh_plus::wizard::{ScriptedPrompter, settings};

use crate::common::{TestSim, bin, demo, split, std_cmd};

pub(crate) fn ctx(sim: &TestSim) -> Ctx {
    let client = sim.client();
    let mut ctx = Ctx::new(client, "test");
    ctx.set_note_sink(|_| {});
    ctx
}

fn opts(confirm: bool, dry_run: bool) -> NewOptions {
    NewOptions {
        vmid: None,
        dry_run,
        confirm,
        build: BuildOptions {
            task_timeout: Duration::from_secs(60),
            agent_timeout: Duration::from_secs(30),
        },
    }
}

/// Runs the wizard with scripted answers, as a person at the terminal would.
fn scripted(sim: &TestSim, config: &Config, answers: &[&str]) -> Result<NewOutcome> {
    let mut ctx = ctx(sim);
    let spec = flow::load_spec().unwrap();
    let mut p = ScriptedPrompter::new(answers.iter().copied());
    let out = sim._runtime.block_on(flow::run(
        &mut ctx,
        &spec,
        config,
        &mut p,
        &Answers::new(),
        &opts(true, false),
    ));
    if out.is_ok() {
        assert_eq!(p.remaining(), 0, "unused answers");
    }
    out
}

/// Runs `new` non-interactively with flag answers.
fn flags(
    sim: &TestSim,
    config: &Config,
    given: &[(&str, &str)],
    o: NewOptions,
) -> Result<NewOutcome> {
    let mut ctx = ctx(sim);
    let spec = flow::load_spec().unwrap();
    let flag_for = |prompt: &str| flow::flag_for_prompt(&spec, prompt);
    let mut p = DefaultsOnly {
        flag_for: &flag_for,
    };
    let given: Answers = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sim._runtime
        .block_on(flow::run(&mut ctx, &spec, config, &mut p, &given, &o))
}

fn config_of(
    sim: &TestSim,
    name: &str,
) -> Option<(u32, indexmap::IndexMap<String, String>, String)> {
    sim.handle.with_state(|s| {
        s.guests
            .values()
            .find(|g| g.cfg("name") == Some(name))
            .map(|g| (g.vmid, g.config.to_map(), g.status.to_string()))
    })
}

const WEB07: &[&str] = &[
    "webserver",    // profile
    "",             // template: the profile's debian-12-cloud
    "web07",        // name
    "",             // node: automatic
    "3",            // cores
    "",             // memory: the profile's 2G
    "40G",          // disk
    "static",       // network
    "10.0.5.20/24", // ip
    "10.0.5.1",     // gateway
    "9.9.9.9",      // nameserver
    "ops",          // cloud-init user
    "",             // ssh keys: the config's
    "",             // start: yes
    "yes",          // build it
];

#[test]
fn a_scripted_wizard_builds_the_vm_its_answers_describe() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let out = scripted(&sim, &config, WEB07).unwrap();
    let NewOutcome::Built(plan, built) = out else {
        panic!("not built");
    };
    assert_eq!(built.ip.as_deref(), Some("10.0.5.20"));
    assert_eq!(built.ssh().as_deref(), Some("ssh ops@10.0.5.20"));
    let (vmid, cfg, status) = config_of(&sim, "web07").unwrap();
    assert_eq!(vmid, plan.vmid);
    assert!(
        (100..=899).contains(&vmid),
        "VMID {vmid} outside vmid_ranges.vm"
    );
    assert_eq!(status, "running");
    let get = |k: &str| cfg.get(k).map(String::as_str);
    assert_eq!(get("cores"), Some("3"));
    assert_eq!(get("memory"), Some("2048"));
    assert_eq!(get("tags"), Some("web"));
    assert_eq!(get("agent"), Some("1"));
    assert_eq!(get("ciuser"), Some("ops"));
    assert_eq!(get("nameserver"), Some("9.9.9.9"));
    assert_eq!(get("ipconfig0"), Some("ip=10.0.5.20/24,gw=10.0.5.1"));
    assert!(
        get("scsi0").is_some_and(|d| d.contains("size=40G")),
        "{:?}",
        get("scsi0")
    );
    let keys = get("sshkeys").unwrap();
    assert!(keys.starts_with("ssh-ed25519%20AAAA"), "{keys}");
}

#[test]
fn a_failure_mid_provisioning_leaves_nothing_behind() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let before = sim.handle.with_state(|s| (s.guests.len(), s.volumes.len()));
    sim.handle.set_faults(Faults {
        fail_tasks: Some("qmresize".into()),
        ..Faults::default()
    });
    let err: Error = scripted(&sim, &config, WEB07).unwrap_err();
    assert!(
        err.message
            .contains("building web07 failed at step 'resize'"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("simulated task failure"),
        "{}",
        err.message
    );
    assert!(
        err.message
            .contains("was destroyed, nothing was left behind"),
        "{}",
        err.message
    );
    assert!(config_of(&sim, "web07").is_none(), "the VM is left behind");
    let after = sim.handle.with_state(|s| (s.guests.len(), s.volumes.len()));
    assert_eq!(after, before, "guests or volumes left behind");
}

#[test]
fn bad_answers_are_refused_before_anything_changes() {
    let sim = TestSim::demo();
    let mut config = settings::sample().unwrap();
    config.quotas.max_memory = Some("64G".parse().unwrap());
    let check = |given: &[(&str, &str)], vmid: Option<u32>, expected: &str| {
        let before = sim.handle.mutating_count();
        let mut o = opts(false, false);
        o.vmid = vmid;
        let mut all = vec![("template", "debian-12-cloud")];
        all.extend_from_slice(given);
        if !given.iter().any(|(k, _)| *k == "name") {
            all.push(("name", "fresh01"));
        }
        let err = flags(&sim, &config, &all, o).unwrap_err();
        assert!(
            err.message.contains(expected),
            "{given:?}: '{}' lacks '{expected}'",
            err.message
        );
        assert_eq!(
            sim.handle.mutating_count(),
            before,
            "{given:?} changed something"
        );
    };
    check(
        &[("network", "static"), ("ip", "10.0.5.20")],
        None,
        "has no prefix length",
    );
    check(
        &[("network", "static"), ("ip", "10.0.5.0/24")],
        None,
        "network or broadcast",
    );
    check(
        &[
            ("network", "static"),
            ("ip", "10.0.5.20/24"),
            ("gw", "10.0.6.1"),
        ],
        None,
        "outside the VM's subnet",
    );
    check(&[("memory", "128G")], None, "over the quota of 64G");
    check(&[("cores", "32")], None, "over the quota of 16");
    check(&[("disk", "2G")], None, "smaller than the template's 4G");
    check(
        &[("name", "web01")],
        None,
        "a guest named 'web01' already exists",
    );
    check(&[("name", "bad_name")], None, "not a valid VM name");
    check(&[("node", "pve2")], None, "local to pve1");
    check(&[("template", "nope")], None, "'nope' is not a choice");
    check(
        &[],
        Some(950),
        "VMID 950 is outside the range for VMs, 100-899",
    );
    check(&[], Some(101), "VMID 101 is already taken");
}

#[test]
fn a_missing_answer_names_the_flag_that_gives_it() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let err = flags(&sim, &config, &[("name", "web08")], opts(false, false)).unwrap_err();
    assert_eq!(
        err.message,
        "no value for 'Template to clone' and no default"
    );
    assert_eq!(err.hints, vec!["give it with --template"]);
}

#[test]
fn dry_run_resolves_the_plan_and_changes_nothing() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let before = sim.handle.mutating_count();
    let given = [("name", "web03"), ("profile", "webserver")];
    let out = flags(&sim, &config, &given, opts(false, true)).unwrap();
    let NewOutcome::Planned(plan) = out else {
        panic!("a dry run built something");
    };
    assert_eq!(sim.handle.mutating_count(), before);
    assert_eq!(plan.template.name, "debian-12-cloud");
    assert_eq!((plan.cores, plan.memory.mib()), (2, 2048));
    assert_eq!(plan.grow_to.map(|s| s.to_string()).as_deref(), Some("32G"));
    assert_eq!(plan.node, "pve1");
    assert!(sim.handle.count("GET", "/cluster/nextid") >= 1);
}

#[test]
fn a_vm_bigger_than_its_nodes_free_memory_is_warned_of() {
    let sim = TestSim::demo();
    // pve1, where the template's disk is, has 47.8 GiB of its 64 GiB free.
    let (code, out, err) = sim.run("new big01 --template debian-12-cloud --memory 60G --dry-run");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains(
            "warning: 60.0 GiB of memory is more than pve1 has free (47.8 GiB of 64.0 GiB);\n  \
             it may not start"
        ),
        "{err}"
    );
    // A container too; and what fits is not warned of.
    let (code, _, err) = sim.run("new ct09 --lxc --memory 60G --dry-run");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: 60.0 GiB of memory is more than"),
        "{err}"
    );
    let (code, _, err) = sim.run("new small01 --template debian-12-cloud --memory 2G --dry-run");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning:"), "{err}");
}

#[test]
fn new_in_the_demo_builds_a_running_vm_and_says_how_to_reach_it() {
    let (code, out, err) = demo("new web03 --profile webserver --template debian-12-cloud");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("running"), "{out}");
    assert!(out.contains("ssh debian@10.0."), "{out}");
    assert!(err.contains("[1/5] cloning debian-12-cloud"), "{err}");
    let line = "new web03 --template debian-12-cloud --dry-run";
    let (code, out, err) = split(
        bin()
            .args(["--demo", "--json", "-c", line])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("\"name\": \"web03\""), "{out}");
}

#[test]
fn the_wizard_needs_a_terminal() {
    let (code, _, err) = demo("new");
    assert_ne!(code, 0);
    assert!(err.contains("needs a terminal"), "{err}");
}

#[test]
fn the_terminal_wizard_is_driven_with_arrow_keys_and_enter() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std_cmd(home.path());
    cmd.arg("--demo").env("TERM", "xterm");
    let mut p = crate::common::Pty::spawn(cmd, 30_000);
    const DOWN: &str = "\x1b[B";
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("new").unwrap();
    p.exp_string("Profile").unwrap();
    // One down from "no profile": webserver.
    p.send(DOWN).unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("Template to clone").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("Name").unwrap();
    p.send_line("web09").unwrap();
    for prompt in [
        "Node",
        "Cores",
        "Memory",
        "Disk size",
        "Network",
        "Name servers",
        "Cloud-init user",
        "SSH public keys file",
        "Start it when built",
    ] {
        p.exp_string(prompt).unwrap();
        p.send("\r").unwrap();
        p.flush().unwrap();
    }
    p.exp_string("Plan for web09").unwrap();
    p.exp_string("resize scsi0 from 4G to 32G").unwrap();
    p.exp_string("Build it?").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("ssh debian@10.0.").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn an_answer_outside_the_choices_is_reported() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let err = scripted(&sim, &config, &["gameserver"]).unwrap_err();
    assert!(
        err.message.contains("'gameserver' is not a choice"),
        "{}",
        err.message
    );
    assert!(err.message.contains("webserver"), "{}", err.message);
}

#[test]
fn ssh_keys_come_from_a_file_when_one_is_named() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("authorized_keys");
    std::fs::write(&file, "# laptop\nssh-ed25519 AAAAfromfile me@laptop\n").unwrap();
    let path = file.display().to_string();
    let given = [
        ("name", "web05"),
        ("template", "debian-12-cloud"),
        ("sshkeys", path.as_str()),
    ];
    let NewOutcome::Planned(plan) = flags(&sim, &config, &given, opts(false, true)).unwrap() else {
        panic!("a dry run built something");
    };
    assert_eq!(
        plan.sshkeys.as_deref(),
        Some("ssh-ed25519 AAAAfromfile me@laptop")
    );
    let missing = dir.path().join("nope").display().to_string();
    let given = [
        ("name", "web05"),
        ("template", "debian-12-cloud"),
        ("sshkeys", missing.as_str()),
    ];
    let err = flags(&sim, &config, &given, opts(false, true)).unwrap_err();
    assert!(err.message.contains("cannot read"), "{}", err.message);
}

#[test]
fn a_vmid_taken_by_another_client_is_skipped() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let mut ctx = ctx(&sim);
    let inv = sim._runtime.block_on(ctx.refresh()).unwrap();
    let first = sim
        ._runtime
        .block_on(pvesh_plus::wizard::provision::allocate_vmid(
            &ctx, &config, &inv, None, None,
        ))
        .unwrap();
    // Another client takes that VMID after our inventory was read.
    sim.handle.with_state(|s| {
        let mut g = s.guests.values().next().unwrap().clone();
        g.vmid = first;
        s.guests.insert(first, g);
    });
    let next = sim
        ._runtime
        .block_on(pvesh_plus::wizard::provision::allocate_vmid(
            &ctx, &config, &inv, None, None,
        ))
        .unwrap();
    assert!(next > first, "{next} after {first}");
    assert!(inv.guest(next).is_none());
    assert!(sim.handle.count("GET", "/cluster/nextid") >= 3);
}

fn iso_run(sim: &TestSim, answers: &[&str]) -> Result<pvesh_plus::wizard::iso::IsoOutcome> {
    let config = settings::sample().unwrap();
    let mut ctx = ctx(sim);
    let spec = flow::load_iso_spec().unwrap();
    let mut p = ScriptedPrompter::new(answers.iter().copied());
    sim._runtime.block_on(pvesh_plus::wizard::iso::run(
        &mut ctx,
        &spec,
        &config,
        &mut p,
        &Answers::new(),
        &opts(true, false),
    ))
}

const INST01: &[&str] = &[
    "",                                // profile: none
    "debian-12.9.0-amd64-netinst.iso", // iso
    "inst01",                          // name
    "pve2",                            // node
    "",                                // cores: 2
    "4G",                              // memory
    "20G",                             // disk
    "",                                // start: yes
    "yes",                             // build it
];

#[test]
fn the_iso_wizard_builds_a_vm_that_boots_the_installer() {
    let sim = TestSim::demo();
    iso_run(&sim, INST01).unwrap();
    let (_, cfg, status) = config_of(&sim, "inst01").unwrap();
    let get = |k: &str| cfg.get(k).map(String::as_str);
    assert_eq!(status, "running");
    assert_eq!(
        get("ide2"),
        Some("local:iso/debian-12.9.0-amd64-netinst.iso,media=cdrom")
    );
    assert_eq!(get("memory"), Some("4096"));
    assert_eq!(get("cores"), Some("2"));
    let node = sim.handle.with_state(|s| {
        s.guests
            .values()
            .find(|g| g.cfg("name") == Some("inst01"))
            .map(|g| g.node.clone())
    });
    assert_eq!(node.as_deref(), Some("pve2"));
}

#[test]
fn a_failed_start_of_an_iso_vm_leaves_nothing_behind() {
    let sim = TestSim::demo();
    let before = sim.handle.with_state(|s| s.guests.len());
    sim.handle.set_faults(Faults {
        fail_tasks: Some("qmstart".into()),
        ..Faults::default()
    });
    let err = iso_run(&sim, INST01).unwrap_err();
    assert!(
        err.message
            .contains("building inst01 failed at step 'start'"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("nothing was left behind"),
        "{}",
        err.message
    );
    assert!(config_of(&sim, "inst01").is_none());
    assert_eq!(sim.handle.with_state(|s| s.guests.len()), before);
}

#[test]
fn an_interrupted_build_destroys_the_vm_it_created() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let mut ctx = ctx(&sim);
    let spec = flow::load_spec().unwrap();
    let flag_for = |prompt: &str| flow::flag_for_prompt(&spec, prompt);
    let mut p = DefaultsOnly {
        flag_for: &flag_for,
    };
    let given: Answers = [("name", "cut01"), ("template", "debian-12-cloud")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let o = opts(false, false);
    let handle = sim.handle.clone();
    sim._runtime.block_on(async {
        // The clone request creates the VM (locked until its task ends).
        let cloned = handle.mutating_answered(1, |r| r.template.ends_with("/clone"));
        // Like Ctrl-C in the shell: the build's future is dropped once the clone exists.
        tokio::select! {
            r = flow::run(&mut ctx, &spec, &config, &mut p, &given, &o) => panic!("the build ended first: {r:?}"),
            _ = cloned => {}
        }
    });
    assert!(config_of(&sim, "cut01").is_some(), "the clone was answered");
    // The guard's rollback runs on the runtime: it polls the VM (each request moves the
    // logical clock) until the clone's lock is gone, then destroys it.
    sim.wait_for_state(|s| (!s.guests.values().any(|g| g.name() == "cut01")).then_some(()));
}

#[test]
fn a_static_address_may_go_without_a_gateway() {
    let sim = TestSim::demo();
    let config = settings::sample().unwrap();
    let given = [
        ("name", "iso01"),
        ("template", "9000"),
        ("network", "static"),
        ("ip", "192.168.7.9/24"),
    ];
    let NewOutcome::Planned(plan) = flags(&sim, &config, &given, opts(false, true)).unwrap() else {
        panic!("a dry run built something");
    };
    assert_eq!(plan.network.ipconfig(), "ip=192.168.7.9/24");
    assert_eq!(plan.template.name, "debian-12-cloud");
}
