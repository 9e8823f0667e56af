//! Staged changes through the real binary (issue 5): immediate and staged actions, commit with
//! precondition checks and failures, protection, the buffer surviving `kill -9`, confirmed
//! commits timed by the simulator's clock (no sleeps), batches leaving changes pending, and the
//! audit log. Each test has its own state directory, so buffers and logs never mix.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use pvesh_plus::sim::{Faults, SimOptions};

use crate::common::{PASSWORD, TestSim, split};

/// A simulator plus a private XDG state directory for the binary.
struct Env {
    sim: TestSim,
    state: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env::with(SimOptions::logical())
    }

    fn with(opts: SimOptions) -> Env {
        Env {
            sim: TestSim::start(opts),
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.sim.cmd();
        c.env("XDG_STATE_HOME", self.state.path());
        c
    }

    fn run(&self, line: &str) -> (i32, String, String) {
        split(self.cmd().args(["-c", line]).output().unwrap())
    }

    fn batch(&self, text: &str) -> (i32, String, String) {
        let file = self.state.path().join("script.pvesh");
        std::fs::write(&file, text).unwrap();
        split(self.cmd().arg("-f").arg(&file).output().unwrap())
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        let path = self.state.path().join("pvesh-plus").join("audit.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn pending_file(&self) -> Option<PathBuf> {
        let dir = self.state.path().join("pvesh-plus");
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("pending-") && n.ends_with(".json"))
            })
    }

    fn running(&self, vmid: u32) -> bool {
        self.sim
            .handle
            .with_state(|s| s.guests.get(&vmid).unwrap().is_running())
    }

    fn snapshots(&self, vmid: u32) -> Vec<String> {
        self.sim.handle.with_state(|s| {
            let g = s.guests.get(&vmid).unwrap();
            g.snapshots.iter().map(|s| s.name.clone()).collect()
        })
    }

    /// The binary reading lines from a pipe, one at a time, as a script would feed them.
    fn spawn_stdin(&self, extra_env: &[(&str, &str)]) -> Interactive {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pvesh-plus"));
        let base = self.cmd();
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.args(base.get_args());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Interactive {
            child,
            stderr: rx,
            seen: Vec::new(),
        }
    }
}

struct Interactive {
    child: Child,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Interactive {
    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Blocks until a stderr line contains `text` (the binary's own progress, not a timer).
    fn wait_for(&mut self, text: &str) {
        loop {
            let line = self
                .stderr
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no '{text}' on stderr; saw {:#?}", self.seen));
            let hit = line.contains(text);
            self.seen.push(line);
            if hit {
                return;
            }
        }
    }

    /// Closes stdin and returns the exit code and the rest of stderr.
    fn finish(mut self) -> (i32, String) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        let rest: Vec<String> = self.stderr.iter().collect();
        self.seen.extend(rest);
        (status.code().unwrap_or(-1), self.seen.join("\n"))
    }
}

#[test]
fn snapshot_of_running_guests_runs_at_once() {
    let env = Env::new();
    let (code, out, err) =
        env.run("ls | where status=running and type = qemu | snapshot before-upgrade");
    assert_eq!(code, 0, "{out}\n{err}");
    let running = env.sim.handle.with_state(|s| {
        s.guests
            .values()
            .filter(|g| g.is_running() && g.kind == pvesh_plus::sim::GuestKind::Qemu)
            .count()
    });
    assert!(running >= 3);
    assert_eq!(
        env.sim
            .handle
            .count("POST", "/nodes/{node}/qemu/{vmid}/snapshot"),
        running
    );
    assert_eq!(out.matches(" done ").count(), running, "{out}");
    assert!(env.snapshots(101).contains(&"before-upgrade".to_string()));
    assert!(env.pending_file().is_none(), "nothing was staged");
}

#[test]
fn stop_stages_without_a_request_and_commit_applies() {
    let env = Env::new();
    // The three ci runners carry `ci` and run: three stops stage.
    let (code, out, err) = env.run("ls | where tags has ci | stop");
    assert_eq!(code, 0, "{err}");
    assert_eq!(env.sim.handle.mutating_count(), 0, "staging sent a change");
    for name in ["ci-runner-01", "ci-runner-02", "ci-runner-03"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(err.contains("staged 3 change(s)"), "{err}");
    let (_, out, _) = env.run("pending");
    assert_eq!(out.matches("stops the guest").count(), 3, "{out}");
    let (_, out, _) = env.run("diff");
    assert_eq!(out.matches("stopped").count(), 3, "{out}");

    let (code, out, err) = env.run("commit");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("restored 3 pending change(s)"), "{err}");
    assert_eq!(out.matches(" done ").count(), 3, "{out}");
    assert_eq!(
        env.sim
            .handle
            .count("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
        3
    );
    for vmid in [110, 111, 112] {
        assert!(!env.running(vmid), "{vmid} still runs");
    }
    assert!(
        env.pending_file().is_none(),
        "the buffer is empty after a commit"
    );
    let (_, out, _) = env.run("pending");
    assert!(out.contains("nothing pending"), "{out}");
}

#[test]
fn a_guest_changed_since_staging_is_skipped() {
    let env = Env::new();
    let (code, _, err) = env.run("stop web01 web02");
    assert_eq!(code, 0, "{err}");
    env.sim.handle.with_state(|s| {
        let g = s.guests.get_mut(&101).unwrap();
        g.config
            .insert("description".into(), "edited by someone else".into());
    });
    let (code, out, err) = env.run("commit --keep-going");
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("skipped"), "{out}");
    assert!(
        out.contains("config changed since this was staged"),
        "{out}"
    );
    assert!(env.running(101), "a changed guest must not be touched");
    assert!(!env.running(102));
    assert_eq!(
        env.sim
            .handle
            .count("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
        1
    );
}

#[test]
fn a_failing_task_is_reported_and_keep_going_runs_the_rest() {
    let env = Env::new();
    env.run("stop ci-runner-01");
    env.run("shutdown ci-runner-02");
    env.run("stop ci-runner-03");
    env.sim.handle.set_faults(Faults {
        fail_tasks: Some("qmshutdown".into()),
        ..Faults::default()
    });
    // Without --keep-going the failure stops new launches; what did not start stays pending.
    let (code, out, err) = env.run("commit --parallel 1");
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("simulated task failure"), "{out}");
    assert!(out.contains("not run"), "{out}");
    assert!(env.running(112));
    let (_, pending, _) = env.run("pending");
    assert!(pending.contains("ci-runner-03"), "{pending}");
    assert!(!pending.contains("ci-runner-02"), "{pending}");

    // With --keep-going every action runs whatever fails.
    env.run("shutdown ci-runner-02");
    let (code, out, err) = env.run("commit --keep-going --parallel 1");
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("failed"), "{out}");
    assert!(!env.running(112), "{out}");
    assert!(env.running(111));
}

#[test]
fn protected_guests_refuse_with_exit_4_and_no_request() {
    let env = Env::new();
    // db01 carries PVE's `protection: 1` in the demo scenario.
    let (code, _, err) = env.run("stop db01");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("protection"), "{err}");
    // The `protected` tag protects as well; one protected target refuses the whole line.
    let (code, _, err) = env.run("tag add protected web02");
    assert_eq!(code, 0, "{err}");
    let before = env.sim.handle.mutating_count();
    let (code, _, err) = env.run("stop web01 web02");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("`protected` tag"), "{err}");
    assert_eq!(env.sim.handle.mutating_count(), before);
    assert!(env.pending_file().is_none(), "nothing may be staged");
}

#[test]
fn the_buffer_survives_kill_9() {
    let env = Env::new();
    let mut shell = env.spawn_stdin(&[]);
    shell.send("stop web01");
    shell.wait_for("staged 1 change(s)");
    shell.child.kill().unwrap();
    shell.child.wait().unwrap();
    let (code, out, err) = env.run("pending");
    assert_eq!(code, 0);
    assert!(err.contains("restored 1 pending change(s)"), "{err}");
    assert!(out.contains("web01"), "{out}");
}

#[test]
fn a_batch_ending_with_changes_pending_exits_5() {
    let env = Env::new();
    let (code, _, err) = env.batch("# stage, forget to commit\nstop web01\n");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("1 change(s) pending, not applied"), "{err}");
    assert!(err.contains("stop on web01 (101)"), "{err}");
    assert!(env.running(101));
}

#[test]
fn confirmed_commit_without_confirm_rolls_back_on_the_server_clock() {
    let env = Env::new();
    env.run("stop web01");
    let mut shell = env.spawn_stdin(&[("PVESH_PLUS_CLOCK", "server")]);
    shell.send("commit --confirm 1h");
    shell.wait_for("confirmed commit");
    assert!(!env.running(101));
    assert!(
        env.snapshots(101)
            .iter()
            .any(|s| s.starts_with("pvesh-confirm-"))
    );
    env.sim.handle.advance(3700.0);
    shell.send("status web01");
    shell.wait_for("rollback finished");
    let (code, err) = shell.finish();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("ROLLING BACK"), "{err}");
    assert!(env.running(101), "web01 is back as it was");
    assert_eq!(
        env.sim.handle.count(
            "POST",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback"
        ),
        1
    );
}

#[test]
fn confirmed_commit_with_confirm_stays() {
    let env = Env::new();
    env.run("stop web01");
    let (code, out, err) = env.batch("commit --confirm 1h\nconfirm\n");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("ROLLING BACK"), "{err}");
    assert!(!env.running(101));
    assert!(
        !env.snapshots(101)
            .iter()
            .any(|s| s.starts_with("pvesh-confirm-")),
        "the safety snapshot is deleted once confirmed"
    );
    assert_eq!(
        env.sim.handle.count(
            "POST",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback"
        ),
        0
    );
}

#[test]
fn pending_inside_a_confirm_window_says_how_long_is_left() {
    let env = Env::new();
    env.run("stop web01");
    let file = env.state.path().join("window.pvesh");
    std::fs::write(&file, "commit --confirm 1h\npending\nconfirm\n").unwrap();
    let (code, out, err) = split(
        env.cmd()
            .env("PVESH_PLUS_CLOCK", "server")
            .arg("-f")
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("nothing pending"), "{out}");
    assert!(out.contains("nothing staged"), "{out}");
    let note = err
        .lines()
        .find(|l| l.starts_with("a confirmed commit waits for `confirm`"))
        .unwrap_or_else(|| panic!("no window note: {err}"));
    // The server's clock moved a little since the commit: a bit under an hour is left.
    let left = regex::Regex::new(
        r"waits for `confirm`: 59m \d+s left, then 1 guest\(s\) roll back to pvesh-confirm-\d+$",
    )
    .unwrap();
    assert!(left.is_match(note), "{note}");
}

#[test]
fn a_run_ending_inside_the_window_rolls_back_loudly() {
    let env = Env::new();
    env.run("stop web01");
    let (code, _, err) = env.run("commit --confirm 1h");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("ROLLING BACK"), "{err}");
    assert!(env.running(101));
}

#[test]
fn confirm_is_refused_for_destroy() {
    let env = Env::new();
    env.run("destroy old-app");
    let before = env.sim.handle.mutating_count();
    let (code, _, err) = env.run("commit --confirm 5m");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("cannot be undone"), "{err}");
    assert_eq!(env.sim.handle.mutating_count(), before);
}

#[test]
fn set_says_what_applies_live_and_reductions_stage() {
    let env = Env::new();
    let (code, out, err) = env.run("set cores=1 web01");
    assert_eq!(code, 0, "{err}");
    assert_eq!(env.sim.handle.mutating_count(), 0, "a reduction stages");
    assert!(out.contains("reduces resources"), "{out}");
    assert!(out.contains("cores waits for a reboot"), "{out}");
    let (code, out, err) = env.run("set name=web01-new onboot=1 memory=8G web02");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("memory waits for a reboot, name applies now"),
        "{err}"
    );
    assert!(out.contains("pending until reboot: memory"), "{out}");
    assert!(out.contains(" done "), "{out}");
    let name = env
        .sim
        .handle
        .with_state(|s| s.guests.get(&102).unwrap().cfg("name").map(str::to_string));
    assert_eq!(name.as_deref(), Some("web01-new"));
    let (code, _, err) = env.run("set color=blue 102");
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_audit_log_has_a_line_per_mutation_and_no_secret() {
    let env = Env::new();
    env.run("ls | where tags has ci and type = qemu | stop");
    env.run("commit");
    env.run("snapshot audit-check web01");
    let lines = env.audit();
    let calls: Vec<&serde_json::Value> = lines.iter().filter(|l| l["event"] == "call").collect();
    assert_eq!(calls.len(), 4, "{lines:#?}");
    assert_eq!(calls.len(), env.sim.handle.mutating_count());
    for c in &calls {
        assert!(c["upid"].as_str().unwrap().starts_with("UPID:"), "{c}");
        for field in [
            "time", "cluster", "user", "action", "vmid", "node", "params", "outcome",
        ] {
            assert!(!c[field].is_null(), "{field} missing in {c}");
        }
    }
    let tasks = lines.iter().filter(|l| l["event"] == "task").count();
    assert_eq!(tasks, 4);
    let text =
        std::fs::read_to_string(env.state.path().join("pvesh-plus").join("audit.jsonl")).unwrap();
    assert!(!text.contains(PASSWORD));
    assert!(!text.contains("PVEAuthCookie"));
}

#[test]
fn ctrl_c_stops_launching_and_reports_what_ran() {
    // A clock that only moves when told: the first task runs until the test advances it.
    let env = Env::with(SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    });
    let (code, _, err) = env.run("ls | where tags has ci and type = qemu | stop");
    assert_eq!(code, 0, "{err}");
    let mut shell = env.spawn_stdin(&[]);
    shell.send("commit --parallel 1");
    shell.wait_for("task UPID:");
    let pid = shell.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    shell.wait_for("no new actions will start");
    env.sim.handle.advance(5.0);
    shell.wait_for("stop done");
    let (code, err) = shell.finish();
    assert_eq!(code, 130, "{err}");
    assert_eq!(
        env.sim
            .handle
            .count("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
        1,
        "only the running action finished"
    );
    let (_, out, _) = env.run("pending");
    assert_eq!(
        out.matches("stops the guest").count(),
        2,
        "the rest stays pending: {out}"
    );
}

#[test]
fn a_session_killed_inside_the_window_still_rolls_back_later() {
    let env = Env::new();
    env.run("stop web01");
    let mut shell = env.spawn_stdin(&[("PVESH_PLUS_CLOCK", "server")]);
    shell.send("commit --confirm 1h");
    shell.wait_for("confirmed commit");
    shell.child.kill().unwrap();
    shell.child.wait().unwrap();
    assert!(!env.running(101), "the commit applied");
    // The next run finds the open window, says so, and rolls back when it ends.
    let out = env
        .cmd()
        .env("PVESH_PLUS_CLOCK", "server")
        .args(["-c", "pending"])
        .output()
        .unwrap();
    let (code, _, err) = split(out);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("left a confirmed commit unconfirmed"), "{err}");
    assert!(err.contains("ROLLING BACK"), "{err}");
    assert!(env.running(101));
    let (code, _, err) = env.run("pending");
    assert_eq!(code, 0, "the window is closed now: {err}");
}

#[test]
fn the_config_sets_the_policy_and_the_protected_list() {
    let env = Env::new();
    let config = env.state.path().join("cluster-config.yaml");
    std::fs::write(
        &config,
        "staging:\n  policy: none\nprotected:\n  vmids: [102]\nquotas:\n  max_cores: 4\n",
    )
    .unwrap();
    let run = |line: &str| {
        split(
            env.cmd()
                .arg("--config")
                .arg(&config)
                .args(["-c", line])
                .output()
                .unwrap(),
        )
    };
    // `none`: destructive actions run at once.
    let (code, out, err) = run("stop web01");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!env.running(101));
    assert!(env.pending_file().is_none());
    // The config's protected list refuses, naming the rule.
    let (code, _, err) = run("stop web02");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("protected.vmids"), "{err}");
    // Quotas apply to `set`.
    let (code, _, err) = run("set cores=8 web01");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("max_cores"), "{err}");
}

#[test]
fn help_commit_documents_the_confirm_window() {
    let env = Env::new();
    let (code, out, _) = env.run("help commit");
    assert_eq!(code, 0);
    assert!(out.contains("ROLLS BACK before it exits"), "{out}");
    let (_, out, _) = env.run("help");
    assert!(out.contains("Changing guests"), "{out}");
    assert!(out.contains("5    a batch"), "{out}");
}

#[test]
fn several_changes_to_one_guest_commit_in_order() {
    let env = Env::new();
    // A reduction, then the reboot that applies it, then a stop and a start: each later action
    // sees the guest as the earlier ones left it, not as it was when staged.
    let (code, _, err) = env.batch("set cores=1 web01\nreboot web01\nstop web01\n");
    assert_eq!(code, 5, "{err}");
    let (code, out, err) = env.run("commit");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.matches(" done ").count(), 3, "{out}");
    let cores = env
        .sim
        .handle
        .with_state(|s| s.guests.get(&101).unwrap().cfg("cores").map(str::to_string));
    assert_eq!(cores.as_deref(), Some("1"));
    assert!(!env.running(101));
}

#[test]
fn a_commit_killed_mid_flight_is_resumed_without_sending_anything_twice() {
    // Speed 0: the tasks run until the test moves the clock, so the kill lands while two
    // shutdowns are in flight and the third has not started.
    let env = Env::with(SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    });
    let (code, _, err) = env.run("ls | where tags has ci and type = qemu | shutdown");
    assert_eq!(code, 0, "{err}");
    let shutdowns = || {
        env.sim
            .handle
            .count("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown")
    };
    let mut shell = env.spawn_stdin(&[]);
    shell.send("commit --parallel 2");
    shell.wait_for("task UPID:");
    shell.wait_for("task UPID:");
    shell.child.kill().unwrap();
    shell.child.wait().unwrap();
    assert_eq!(shutdowns(), 2, "two were sent before the kill");
    // Their tasks still run: the guests still look running, so only the journal can tell that
    // sending them again would be wrong.
    let (code, out, err) = env.run("pending");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("shuts the guest down").count(), 3, "{out}");
    assert_eq!(
        err.matches("was in flight when the last session stopped (sent, task UPID:")
            .count(),
        2,
        "{err}"
    );

    let mut shell = env.spawn_stdin(&[]);
    shell.wait_for("2 of them were in flight when the last session stopped");
    shell.wait_for("(sent, task UPID:");
    shell.send("commit");
    shell.wait_for("was in flight when the last session stopped; following UPID:");
    shell.wait_for("task UPID:");
    env.sim.handle.advance(60.0);
    let (code, err) = shell.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(shutdowns(), 3, "each action reached the server once: {err}");
    let stopped: Vec<u32> = env.sim.handle.with_state(|s| {
        s.guests
            .values()
            .filter(|g| {
                g.config
                    .get("tags")
                    .is_some_and(|t| t.split(';').any(|t| t == "ci"))
                    && g.kind == pvesh_plus::sim::GuestKind::Qemu
                    && !g.is_running()
            })
            .map(|g| g.vmid)
            .collect()
    });
    assert_eq!(stopped.len(), 3, "{stopped:?}");
    let (_, out, _) = env.run("pending");
    assert!(out.contains("nothing pending"), "{out}");
}

#[test]
fn destroy_of_a_running_guest_is_refused_at_staging_and_stop_stages_a_stop_first() {
    let env = Env::new();
    assert!(env.running(102));
    let (code, _, err) = env.run("destroy web02");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("web02 (102) is running") && err.contains("`destroy web02 --stop`"),
        "{err}"
    );
    assert!(env.pending_file().is_none(), "nothing was staged");

    let (code, out, err) = env.run("destroy web02 --stop");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("staged 2 change(s)"), "{err}");
    let stop = out.find("stop ").unwrap_or(usize::MAX);
    let destroy = out.find("destroy").unwrap_or(0);
    assert!(stop < destroy, "the stop comes first: {out}");
    assert_eq!(env.sim.handle.mutating_count(), 0, "staging sent a change");

    let (code, out, err) = env.run("commit");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.matches(" done ").count(), 2, "{out}");
    let exists = env.sim.handle.with_state(|s| s.guests.contains_key(&102));
    assert!(!exists, "web02 still exists");
}

#[test]
fn resume_of_a_stopped_guest_is_refused_with_a_hint_to_start() {
    let env = Env::new();
    let (_, out, _) = env.run("ls | where status=stopped and type=qemu | first | get name");
    let name = out.trim();
    assert!(!name.is_empty());
    let (code, _, err) = env.run(&format!("resume {name}"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is stopped") && err.contains(&format!("use `start {name}`")),
        "{err}"
    );
    assert_eq!(env.sim.handle.mutating_count(), 0, "resume sent a request");
}

/// Issue 15, item 3: the natural argument orders are accepted where they are unambiguous, and a
/// lone guest where the snapshot name belongs says which argument is which.
#[test]
fn snapshot_and_tag_accept_the_natural_order() {
    let sim = crate::common::TestSim::demo();
    let (code, out, err) = sim.run("snapshot db01 test1");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("snapshot test1"), "{out}");
    let taken =
        sim.wait_for_state(|s| Some(s.guests[&103].snapshots.iter().any(|x| x.name == "test1")));
    assert!(taken, "the snapshot is on db01");
    let (code, _, err) = sim.run("snapshot web01");
    assert_eq!(code, 2);
    assert!(
        err.contains("'web01' is a guest") && err.contains("`snapshot NAME web01`"),
        "{err}"
    );
    let (code, _, err) = sim.run("tag +staging web02");
    assert_eq!(code, 0, "{err}");
    let tags = sim.wait_for_state(|s| s.guests[&102].config.get("tags").cloned());
    assert!(tags.contains("staging"), "{tags}");
    let (code, out, err) = sim.run("rollback web01 pre-upgrade");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rollback pre-upgrade"), "{out}");
}
