//! Scripts and agents (`help agents`): approvals across processes against one simulator (an
//! agent's run stages and asks, a person approves from another terminal), the
//! `agent.require_approval` gate, `--dry-run`, the environment quotas, `new --if-exists`, and
//! the one JSON error object of `--json` (insta snapshots of its shapes).

use crate::common::{
    PASSWORD, Pty, TestSim, audit_calls, refused, run_audited, split, state, std_cmd,
};

const TIMEOUT_MS: u64 = 30_000;

/// Writes `text` as the user's config in `sim`'s home (every run against `sim` reads it).
fn user_config(sim: &TestSim, text: &str) {
    let dir = sim.home.path().join("config/pvesh-plus");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cluster-config.yaml"), text).unwrap();
}

/// Every JSON document on `stdout`, in order.
fn json_docs(stdout: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<serde_json::Value>()
        .map(|v| v.unwrap())
        .collect()
}

/// An agent's run: `-c LINE --request-approval --json`; returns the approval id it printed.
fn request(sim: &TestSim, line: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = sim.cmd();
    cmd.args(["--json", "--request-approval", "-c", line]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, out, err) = split(cmd.output().unwrap());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("waiting for approval"), "{err}");
    let docs = json_docs(&out);
    let last = docs.last().unwrap();
    assert_eq!(last["status"], "waiting", "{out}");
    last["approval"].as_str().unwrap().to_string()
}

/// A person in another terminal: `pvesh-plus approve ID` in a pseudo-terminal.
pub(crate) fn approve_in_terminal(sim: &TestSim, id: &str, env: &[(&str, &str)]) -> Pty {
    let mut cmd = std_cmd(sim.home.path());
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
        "approve",
        id,
    ])
    .env("PROXMOX_USER", "root@pam")
    .env("PROXMOX_PASSWORD", PASSWORD)
    .env("USER", "alice")
    .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Pty::spawn(cmd, TIMEOUT_MS)
}

/// The exit code of a finished pty session.
pub(crate) fn exit_code(p: &mut Pty) -> i32 {
    let status = format!("{:?}", p.0.process().wait().unwrap());
    // `Exited(Pid(N), CODE)`
    status
        .rsplit(", ")
        .next()
        .and_then(|c| c.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("not an exit: {status}"))
}

fn audit_lines(sim: &TestSim) -> Vec<serde_json::Value> {
    let path = sim.home.path().join("state/pvesh-plus/audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_person_approves_an_agents_staged_stop_from_another_terminal() {
    let sim = TestSim::demo();
    user_config(&sim, "agent:\n  require_approval: destructive\n");
    // The agent may not commit the stop itself...
    refused(
        &sim,
        "stop web01; commit",
        6,
        "need a person's approval first",
    );
    let (_, err) = run_audited(&sim, "discard", 0);
    assert!(err.contains("discarded 1"), "{err}");
    // ...so it asks; nothing is sent.
    let sent = sim.handle.mutating_count();
    let id = request(&sim, "stop web01", &[("USER", "agent-bot")]);
    assert_eq!(sim.handle.mutating_count(), sent);
    assert!(state(&sim, |s| s.guests[&101].is_running()));
    let (code, out, _) = sim.run("approvals");
    assert_eq!(code, 0);
    assert!(
        out.contains(&id) && out.contains("agent-bot via root@pam"),
        "{out}"
    );
    // The person sees the plan and its diff, and says yes.
    let mut p = approve_in_terminal(&sim, &id, &[]);
    p.exp_string("stop on web01 (101)").unwrap();
    p.exp_string("status: running").unwrap();
    p.exp_string("apply this plan now? [y/N]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string(&format!("approved {id}")).unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert!(
        !state(&sim, |s| s.guests[&101].is_running()),
        "web01 stopped"
    );
    let lines = audit_lines(&sim);
    let approval = lines
        .iter()
        .find(|l| l["event"] == "approval")
        .expect("an approval line");
    assert_eq!(approval["outcome"], "approved");
    assert_eq!(approval["approval"], id.as_str());
    assert_eq!(approval["approved_by"], "alice via root@pam");
    assert_eq!(approval["requested_by"], "agent-bot via root@pam");
    let call = lines.iter().find(|l| l["event"] == "call").unwrap();
    assert_eq!(call["action"], "stop");
    assert_eq!(call["approval"], id.as_str());
    assert_eq!(call["approved_by"], "alice via root@pam");
    // Used once: it is gone, and the plan with it.
    let (code, out, err) = sim.run("approvals; pending");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("no approval requests") && out.contains("nothing pending"),
        "{out}"
    );
}

#[test]
fn an_approval_of_a_plan_that_changed_since_is_refused() {
    let sim = TestSim::demo();
    let id = request(&sim, "stop web01", &[]);
    // The agent stages more after asking: the plan is no longer the one requested.
    run_audited(&sim, "stop web02", 0);
    let sent = sim.handle.mutating_count();
    let mut p = approve_in_terminal(&sim, &id, &[]);
    p.exp_string("the pending plan changed since approval request")
        .unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 6);
    assert_eq!(sim.handle.mutating_count(), sent, "nothing sent");
    assert!(state(&sim, |s| s.guests[&101].is_running()));
}

#[test]
fn an_approval_of_a_guest_that_changed_since_is_refused() {
    let sim = TestSim::demo();
    let id = request(&sim, "stop web01", &[]);
    // Someone changes web01's config behind the plan's back (its digest moves).
    let (code, _, err) = sim.run("set description=changed web01");
    assert_eq!(code, 0, "{err}");
    let sent = sim.handle.mutating_count();
    let mut p = approve_in_terminal(&sim, &id, &[]);
    p.exp_string("web01 (101) changed since approval request")
        .unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 6);
    assert_eq!(sim.handle.mutating_count(), sent);
}

#[test]
fn an_expired_approval_is_refused() {
    let sim = TestSim::demo();
    user_config(&sim, "agent:\n  approval_ttl: 10m\n");
    let server = [("PVESH_PLUS_CLOCK", "server")];
    let id = request(&sim, "stop web01", &server);
    // Eleven simulated minutes later (the simulator's clock; no waiting).
    sim.handle.advance(660.0);
    let sent = sim.handle.mutating_count();
    let mut p = approve_in_terminal(&sim, &id, &server);
    p.exp_string(&format!("approval request {id} expired"))
        .unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 6);
    assert_eq!(sim.handle.mutating_count(), sent);
    assert!(state(&sim, |s| s.guests[&101].is_running()));
    let (_, out, _) = sim
        .cmd()
        .env("PVESH_PLUS_CLOCK", "server")
        .args(["-c", "approvals"])
        .output()
        .map(split)
        .unwrap();
    assert!(out.contains("expired"), "{out}");
}

#[test]
fn a_script_cannot_approve_and_a_person_can_reject() {
    let sim = TestSim::demo();
    let id = request(&sim, "stop web01", &[]);
    refused(
        &sim,
        &format!("approve {id}"),
        6,
        "approve needs a person at a terminal",
    );
    let (code, _, err) = split(sim.cmd().args(["approve", &id]).output().unwrap());
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains("approve needs a person at a terminal"),
        "{err}"
    );
    let (code, _, err) = split(sim.cmd().args(["reject", &id]).output().unwrap());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("rejected {id}")), "{err}");
    let rejected = audit_lines(&sim);
    assert!(
        rejected
            .iter()
            .any(|l| l["event"] == "approval" && l["outcome"] == "rejected"),
        "{rejected:?}"
    );
    let (code, _, err) = split(sim.cmd().args(["reject", &id]).output().unwrap());
    assert_eq!(code, 6);
    assert!(err.contains("no approval request"), "{err}");
    assert_eq!(audit_calls(&sim), 0, "nothing was sent");
}

#[test]
fn require_approval_makes_every_change_of_a_script_stage_and_wait() {
    let sim = TestSim::demo();
    // Even with a staging policy that runs destructive changes at once, and for `all` even
    // changes that are not destructive: nothing is sent, it stages.
    user_config(
        &sim,
        "staging:\n  policy: none\nagent:\n  require_approval: all\n",
    );
    let sent = sim.handle.mutating_count();
    for line in [
        "stop web01",
        "start dev-box",
        "set /nodes/pve1/qemu/101/config description=x",
    ] {
        let (code, _, err) = sim.run(line);
        assert_eq!(code, 0, "{line}: {err}");
        assert!(err.contains("staged"), "{line}: {err}");
    }
    refused(&sim, "commit", 6, "agent.require_approval: all");
    refused(
        &sim,
        "new web09 --profile webserver",
        6,
        "creating a guest needs a person's approval",
    );
    refused(
        &sim,
        "create /pools poolid=lab",
        6,
        "need a person's approval first",
    );
    let (code, _, err) = sim.run("new web09 --profile webserver --dry-run");
    assert_eq!(code, 0, "a dry run is not a change: {err}");
    assert_eq!(sim.handle.mutating_count(), sent);
}

#[test]
fn commit_dry_run_sends_nothing_and_shows_the_requests() {
    let sim = TestSim::demo();
    run_audited(&sim, "stop web01", 0);
    let sent = sim.handle.mutating_count();
    let (code, out, err) = sim.run("commit --dry-run");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("dry run: nothing was sent"), "{err}");
    assert!(
        out.contains("POST") && out.contains("/nodes/pve1/qemu/101/status/stop"),
        "{out}"
    );
    assert_eq!(sim.handle.mutating_count(), sent);
}

#[test]
fn dry_run_on_an_action_stages_nothing_and_sends_nothing() {
    let sim = TestSim::demo();
    let sent = sim.handle.mutating_count();
    for (line, request) in [
        ("stop web01 --dry-run", "/nodes/pve1/qemu/101/status/stop"),
        ("start dev-box --dry-run", "/status/start"),
        (
            "snapshot before web01 --dry-run",
            "/nodes/pve1/qemu/101/snapshot",
        ),
        (
            "set memory=8G web01 --dry-run",
            "/nodes/pve1/qemu/101/config",
        ),
        ("create /pools poolid=lab --dry-run", "/pools"),
        (
            "set /nodes/pve1/qemu/101/config description=x --dry-run",
            "/nodes/pve1/qemu/101/config",
        ),
    ] {
        let (code, out, err) = sim.run(line);
        assert_eq!(code, 0, "{line}: {err}");
        assert!(
            err.contains("dry run: nothing staged, nothing sent"),
            "{line}: {err}"
        );
        assert!(out.contains(request), "{line}: {out}");
    }
    assert_eq!(sim.handle.mutating_count(), sent, "nothing sent");
    let (_, out, _) = sim.run("pending");
    assert!(out.contains("nothing pending"), "nothing staged: {out}");
}

/// `pvesh-plus --demo --json ARGS...`: (exit code, the one JSON error object pretty-printed,
/// stderr). Stdout must hold exactly that object.
fn json_error(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = crate::common::bin();
    cmd.args(args);
    if let Some(text) = stdin {
        cmd.write_stdin(text.to_string());
    }
    let (code, out, err) = split(cmd.output().unwrap());
    let docs = json_docs(&out);
    assert_eq!(docs.len(), 1, "one JSON document on stdout:\n{out}");
    let e = &docs[0]["error"];
    assert_eq!(e["exit_code"], code, "{out}");
    for key in [
        "kind",
        "message",
        "hints",
        "exit_code",
        "params",
        "http_status",
        "location",
    ] {
        assert!(e.get(key).is_some(), "{key} missing in {out}");
    }
    assert!(
        !err.contains("error:"),
        "the error is not printed twice:\n{err}"
    );
    (code, serde_json::to_string_pretty(&docs[0]).unwrap(), err)
}

#[test]
fn with_json_every_error_is_one_json_object_on_stdout() {
    let cases: &[(&str, &[&str], Option<&str>, i32)] = &[
        (
            "json_error_parse",
            &["--demo", "--json", "-c", "ls | where mem >"],
            None,
            2,
        ),
        (
            "json_error_unknown_command",
            &["--demo", "--json", "-c", "frobnicate"],
            None,
            2,
        ),
        (
            "json_error_policy",
            &["--demo", "--json", "-c", "stop db01"],
            None,
            4,
        ),
        (
            "json_error_api_params",
            &[
                "--demo",
                "--json",
                "-c",
                "create /nodes/pve1/qemu vmid=150 cores=abc",
            ],
            None,
            1,
        ),
        (
            "json_error_not_found",
            &["--demo", "-o", "json", "-c", "status nosuch"],
            None,
            1,
        ),
        ("json_error_argv", &["--json", "--bogus"], None, 2),
        (
            "json_error_batch_location",
            &["--demo", "--json"],
            Some("# a script\nstatus webb\n"),
            1,
        ),
    ];
    for (name, args, stdin, want) in cases {
        let (code, json, err) = json_error(args, *stdin);
        assert_eq!(code, *want, "{name}: {json}\n{err}");
        insta::assert_snapshot!(*name, json);
    }
}

#[test]
fn with_json_an_approval_refusal_is_a_json_object_too() {
    let sim = TestSim::demo();
    user_config(&sim, "agent:\n  require_approval: destructive\n");
    let (code, out, _) = split(
        sim.cmd()
            .args(["--json", "-c", "stop web01; commit"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 6);
    let docs = json_docs(&out);
    let e = &docs.last().unwrap()["error"];
    assert_eq!(e["kind"], "approval_required", "{out}");
    assert_eq!(e["exit_code"], 6);
    insta::assert_snapshot!(
        "json_error_approval_required",
        serde_json::to_string_pretty(&docs.last().unwrap()).unwrap()
    );
}

/// `-c LINE` against `sim` with `env` set; asserts exit `code` and nothing sent; returns stderr.
fn refused_with_env(sim: &TestSim, env: &[(&str, &str)], line: &str, code: i32) -> String {
    let sent = sim.handle.mutating_count();
    let mut cmd = sim.cmd();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (got, out, err) = split(cmd.args(["-c", line]).output().unwrap());
    assert_eq!(got, code, "{line}\n{out}\n{err}");
    assert_eq!(sim.handle.mutating_count(), sent, "{line} sent a request");
    err
}

#[test]
fn the_environment_quotas_override_the_config_and_name_the_variable() {
    let sim = TestSim::demo();
    user_config(&sim, "quotas:\n  max_memory: 64G\n  max_cores: 32\n");
    let err = refused_with_env(
        &sim,
        &[("PROXMOX_MAX_RAM_MB", "4096")],
        "set memory=8G web01",
        4,
    );
    assert!(
        err.contains("web01 (101) would get 8.0 GiB of memory; PROXMOX_MAX_RAM_MB=4096 allows at most 4.0 GiB"),
        "{err}"
    );
    assert!(err.contains("raise or unset PROXMOX_MAX_RAM_MB"), "{err}");
    let err = refused_with_env(&sim, &[("PROXMOX_MAX_CPU", "2")], "set cores=4 web01", 4);
    assert!(err.contains("PROXMOX_MAX_CPU=2 allows at most 2"), "{err}");
    let err = refused_with_env(
        &sim,
        &[("PROXMOX_MAX_VMS", "3")],
        "new web09 --profile webserver",
        4,
    );
    assert!(err.contains("the quota is 3 (PROXMOX_MAX_VMS=3)"), "{err}");
    let err = refused_with_env(
        &sim,
        &[("PROXMOX_MAX_DISK_GB", "5")],
        "new web09 --profile webserver",
        2,
    );
    assert!(
        err.contains("over the quota of 5G per VM (PROXMOX_MAX_DISK_GB=5)"),
        "{err}"
    );
    // The variable wins both ways: above the file's quota too.
    let (code, _, err) = split(
        sim.cmd()
            .env("PROXMOX_MAX_RAM_MB", "131072")
            .args(["-c", "set memory=65G web01"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "the variable overrides the file's 64G: {err}");
    for bad in ["lots", "0", "-5", "4.5"] {
        let err = refused_with_env(&sim, &[("PROXMOX_MAX_RAM_MB", bad)], "ls | count", 2);
        assert!(
            err.contains(&format!(
                "environment variable PROXMOX_MAX_RAM_MB: '{bad}' is not a whole number"
            )),
            "{err}"
        );
    }
}

#[test]
fn new_if_exists_return_gives_back_the_existing_guest_and_creates_nothing() {
    let sim = TestSim::demo();
    let sent = sim.handle.mutating_count();
    let (code, out, err) = sim.run("new web01 --profile webserver --if-exists return");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("returned as it is"), "{err}");
    assert!(
        out.contains("existed: true") && out.contains("vmid:    101"),
        "{out}"
    );
    assert_eq!(sim.handle.mutating_count(), sent, "nothing created");
    // The default is today's: the name is refused.
    refused(&sim, "new web01 --profile webserver", 2, "already exists");
    refused(
        &sim,
        "new web01 --profile webserver --if-exists fail",
        2,
        "already exists",
    );
    // Not the kind asked for: refused, nothing created.
    refused(
        &sim,
        "new web01 --lxc --if-exists return",
        2,
        "exists but is a VM",
    );
    refused(
        &sim,
        "new web01 --if-exists maybe",
        2,
        "--if-exists takes fail or return",
    );
    // No such guest yet: it is created, and says it did not exist.
    let (code, out, err) = split(
        sim.cmd()
            .args([
                "--json",
                "-c",
                "new web09 --profile webserver --if-exists return",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["existed"], false, "{out}");
    assert_eq!(v["name"], "web09");
    let again = sim.run("new web09 --profile webserver --if-exists return");
    assert_eq!(again.0, 0, "{}", again.2);
    assert!(again.1.contains("existed: true"), "{}", again.1);
}

#[test]
fn every_command_that_changes_something_takes_dry_run() {
    use pvesh_plus::commands::COMMANDS;
    let missing: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| {
            c.sig
                .action
                .is_some_and(|k| k != pvesh_plus::staging::ActionKind::Console)
                || ["create", "delete", "commit", "new"].contains(&c.sig.name)
        })
        .filter(|c| !c.sig.args.iter().any(|a| a.name == "--dry-run"))
        .map(|c| c.sig.name)
        .collect();
    assert!(missing.is_empty(), "no --dry-run: {missing:?}");
}

#[test]
fn a_script_file_asks_for_approval_and_a_person_approves_in_the_shell() {
    let sim = TestSim::demo();
    let script = sim.home.path().join("agent.pve");
    std::fs::write(&script, "# the agent's plan\nstop web01\nreboot web02\n").unwrap();
    let (code, out, err) = split(
        sim.cmd()
            .arg("-f")
            .arg(&script)
            .arg("--request-approval")
            .output()
            .unwrap(),
    );
    // Waiting for a person is not "changes left pending" (exit 5).
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("waiting for approval"), "{err}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("approval:"))
        .map(|v| v.trim().to_string())
        .unwrap();
    // A person in the interactive shell of another terminal.
    let mut cmd = std_cmd(sim.home.path());
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
    ])
    .env("PROXMOX_USER", "root@pam")
    .env("PROXMOX_PASSWORD", PASSWORD)
    .env("USER", "bob")
    .env("TERM", "xterm");
    let mut p = Pty::spawn(cmd, TIMEOUT_MS);
    p.exp_string("type `help`").unwrap();
    p.send_line(&format!("approvals {id}")).unwrap();
    p.exp_string("reboot on web02 (102)").unwrap();
    p.send_line(&format!("approve {id}")).unwrap();
    p.exp_string(&format!("approved {id}")).unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
    assert!(
        !state(&sim, |s| s.guests[&101].is_running()),
        "web01 stopped"
    );
    let approvals: Vec<_> = audit_lines(&sim)
        .into_iter()
        .filter(|l| l["event"] == "approval")
        .collect();
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    assert!(
        approvals
            .iter()
            .all(|l| l["approved_by"] == "bob via root@pam")
    );
}

#[test]
fn a_person_at_the_shell_commits_without_an_approval() {
    let sim = TestSim::demo();
    user_config(&sim, "agent:\n  require_approval: all\n");
    let mut cmd = std_cmd(sim.home.path());
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
    ])
    .env("PROXMOX_USER", "root@pam")
    .env("PROXMOX_PASSWORD", PASSWORD)
    .env("TERM", "xterm");
    let mut p = Pty::spawn(cmd, TIMEOUT_MS);
    p.exp_string("type `help`").unwrap();
    p.send_line("stop web01").unwrap();
    p.exp_string("staged 1 change(s)").unwrap();
    p.send_line("commit").unwrap();
    p.exp_string("stop done").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
    assert!(!state(&sim, |s| s.guests[&101].is_running()));
}
