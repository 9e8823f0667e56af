//! Fixtures: a simulator per test on its own runtime, and the `pvesh-plus` binary pointed at it.
//!
//! Every simulator here runs on the simulator's clock, never on wall time: [`TestSim::demo`]
//! uses the logical clock ([`SimOptions::logical`]: each request moves it by five simulated
//! seconds, so tasks end as the client polls them), other tests use `speed: 0.0` and
//! [`SimHandle::advance`]. A test that must wait for the simulator waits on an event
//! ([`TestSim::wait_mutating`], [`TestSim::wait_for_state`]), never in a sleep loop.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use pvesh_plus::secret::Secret;
use pvesh_plus::sim::{self, RequestRecord, SimHandle, SimOptions, State};
use rexpect::reader::ReadUntil;
use rexpect::session::PtySession;

pub const PASSWORD: &str = "test-password-7Qx";

/// How long [`TestSim::wait_mutating`] and [`TestSim::wait_for_state`] wait before failing the
/// test.
pub const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A simulator running on a runtime of its own, so the test thread may block on a child process.
pub struct TestSim {
    pub handle: SimHandle,
    /// Kept alive: the simulator runs on it.
    pub _runtime: tokio::runtime::Runtime,
    /// The home (config, state, history) of every `pvesh-plus` run against this simulator, so
    /// tests running in parallel never share a pending buffer.
    pub home: tempfile::TempDir,
}

impl TestSim {
    pub fn start(opts: SimOptions) -> TestSim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut opts = opts;
        opts.users.push(("root@pam".into(), Secret::new(PASSWORD)));
        let handle = runtime.block_on(sim::start(opts)).unwrap();
        TestSim {
            handle,
            _runtime: runtime,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The demo cluster on the logical clock.
    pub fn demo() -> TestSim {
        TestSim::start(SimOptions::logical())
    }

    /// Blocks until the `n`th mutating request for which `matches` holds has been answered
    /// (see [`SimHandle::mutating_answered`]) and returns it; panics after [`WAIT_LIMIT`] (a
    /// safety net against a hung test, not a timing assumption).
    pub fn wait_mutating(
        &self,
        n: usize,
        matches: impl Fn(&RequestRecord) -> bool,
    ) -> RequestRecord {
        self.block_on_limited(self.handle.mutating_answered(n, matches))
    }

    /// Blocks until the `n`th request for which `matches` holds has been answered (see
    /// [`SimHandle::answered`]); panics after [`WAIT_LIMIT`].
    pub fn wait_answered(
        &self,
        n: usize,
        matches: impl Fn(&RequestRecord) -> bool,
    ) -> RequestRecord {
        self.block_on_limited(self.handle.answered(n, matches))
    }

    /// Blocks until `f` returns `Some` on the state, re-checked after every answered request
    /// (see [`SimHandle::wait_for_state`]); panics after [`WAIT_LIMIT`].
    pub fn wait_for_state<R>(&self, f: impl FnMut(&mut State) -> Option<R>) -> R {
        self.block_on_limited(self.handle.wait_for_state(f))
    }

    fn block_on_limited<R>(&self, fut: impl std::future::Future<Output = R>) -> R {
        self._runtime
            .block_on(async { tokio::time::timeout(WAIT_LIMIT, fut).await })
            .expect("the simulator never saw what the test waited for")
    }

    /// `pvesh-plus` connected to this simulator with a password login and a pinned certificate.
    pub fn cmd(&self) -> Command {
        self.cmd_in(self.home.path())
    }

    /// [`TestSim::cmd`] with another home (state, config), for tests where several
    /// simulators share one.
    pub fn cmd_in(&self, home: &std::path::Path) -> Command {
        let mut cmd = Command::from_std(std_cmd(home));
        cmd.args([
            "--url",
            &self.handle.url(),
            "--fingerprint",
            &self.handle.fingerprint(),
        ])
        .env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_PASSWORD", PASSWORD);
        cmd
    }

    /// `pvesh-plus -c LINE` against this simulator, started and left running (stdout and
    /// stderr piped), for tests that act while it runs (wait for a request, kill it).
    pub fn spawn(&self, line: &str) -> std::process::Child {
        std_cmd(self.home.path())
            .args([
                "--url",
                &self.handle.url(),
                "--fingerprint",
                &self.handle.fingerprint(),
                "-c",
                line,
            ])
            .env("PROXMOX_USER", "root@pam")
            .env("PROXMOX_PASSWORD", PASSWORD)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The library's client, logged in as root with a password and the pinned certificate.
    pub fn client(&self) -> pvesh_plus::api::Client {
        use pvesh_plus::api::{Auth, Client, ConnectOptions, TlsMode};
        self._runtime
            .block_on(Client::connect(ConnectOptions {
                url: self.handle.url(),
                auth: Auth::Password {
                    username: "root@pam".into(),
                    password: Secret::new(PASSWORD),
                    otp: None,
                },
                tls: TlsMode::Fingerprint(self.handle.fingerprint()),
                timeout: std::time::Duration::from_secs(30),
                tfa: None,
            }))
            .unwrap()
    }

    /// Runs one line with `-c` and returns (exit code, stdout, stderr).
    pub fn run(&self, line: &str) -> (i32, String, String) {
        split(self.cmd().args(["-c", line]).output().unwrap())
    }
}

/// The simulator's state, read once (the command that changed it has exited).
pub fn state<R>(sim: &TestSim, f: impl Fn(&State) -> R) -> R {
    sim.wait_for_state(|s| Some(f(s)))
}

/// How many `call` lines the audit log of `sim`'s home holds.
pub fn audit_calls(sim: &TestSim) -> usize {
    let path = sim.home.path().join("state/pvesh-plus/audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"event\":\"call\""))
        .count()
}

/// Runs `line` with `-c`, expecting exit `code`; returns stdout and stderr. Checks that every
/// mutating request the simulator received meanwhile left one audit line.
pub fn run_audited(sim: &TestSim, line: &str, code: i32) -> (String, String) {
    let (sent, audited) = (sim.handle.mutating_count(), audit_calls(sim));
    let (got, out, err) = sim.run(line);
    assert_eq!(got, code, "{line}\nstdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        sim.handle.mutating_count() - sent,
        audit_calls(sim) - audited,
        "{line}: mutating requests and audit lines differ"
    );
    (out, err)
}

/// Runs `line`, expecting it to be refused with `code`, saying `says`, before any mutating
/// request.
pub fn refused(sim: &TestSim, line: &str, code: i32, says: &str) {
    let sent = sim.handle.mutating_count();
    let (_, err) = run_audited(sim, line, code);
    assert!(err.contains(says), "{line}: expected '{says}' in:\n{err}");
    assert_eq!(sim.handle.mutating_count(), sent, "{line} sent a request");
}

/// A `PATH` whose first directory (in `sim`'s home) holds an executable `name` running `script`
/// (a stand-in for a system program such as ssh).
pub fn path_with_fake(sim: &TestSim, name: &str, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = sim.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join(name);
    std::fs::write(&fake, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The binary with a clean environment: no user config, no PROXMOX_* variables, no colours.
pub fn bin() -> Command {
    Command::from_std(std_cmd(&std::env::temp_dir().join("pvesh-plus-test-home")))
}

/// The same as [`bin`] as a plain `std::process::Command` (for pseudo-terminal tests), with its
/// home (config, state, history) under `home`.
pub fn std_cmd(home: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pvesh-plus"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PROXMOX_") || k.starts_with("XDG_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200");
    cmd
}

pub fn split(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pvesh-plus --demo -c LINE`.
pub fn demo(line: &str) -> (i32, String, String) {
    split(bin().args(["--demo", "-c", line]).output().unwrap())
}

/// A pseudo-terminal session that answers the line editor's cursor-position queries
/// (`ESC [ 6 n`, which a real terminal answers at once) while it waits for output, so the shell
/// never sits out its 2 s timeout for an answer. Everything else is the [`PtySession`]'s.
pub struct Pty(pub PtySession);

/// The cursor-position query (DSR 6) and the answer given: row 1, column 1.
const CURSOR_QUERY: &str = "\x1b[6n";
const CURSOR_ANSWER: &str = "\x1b[1;1R";

impl Pty {
    /// Starts `cmd` in a pseudo-terminal; expectations fail after `timeout_ms`.
    pub fn spawn(cmd: std::process::Command, timeout_ms: u64) -> Pty {
        Pty(rexpect::session::spawn_command(cmd, Some(timeout_ms)).unwrap())
    }

    /// Waits for `needle` (answering cursor queries); returns what came before it.
    pub fn exp_string(&mut self, needle: &str) -> Result<String, rexpect::error::Error> {
        self.exp(|| ReadUntil::String(needle.to_string()))
            .map(|(before, _)| before)
    }

    /// Waits for a match of `regex` (answering cursor queries); returns (before, match).
    pub fn exp_regex(&mut self, regex: &str) -> Result<(String, String), rexpect::error::Error> {
        let re = rexpect::reader::Regex::new(regex).unwrap();
        self.exp(|| ReadUntil::Regex(re.clone()))
    }

    fn exp(
        &mut self,
        want: impl Fn() -> ReadUntil,
    ) -> Result<(String, String), rexpect::error::Error> {
        let mut seen = String::new();
        loop {
            let (before, found) = self
                .0
                .exp_any(vec![ReadUntil::String(CURSOR_QUERY.to_string()), want()])?;
            seen.push_str(&before);
            if found == CURSOR_QUERY {
                self.0.send(CURSOR_ANSWER)?;
                self.0.flush()?;
                continue;
            }
            return Ok((seen, found));
        }
    }
}

impl std::ops::Deref for Pty {
    type Target = PtySession;
    fn deref(&self) -> &PtySession {
        &self.0
    }
}

impl std::ops::DerefMut for Pty {
    fn deref_mut(&mut self) -> &mut PtySession {
        &mut self.0
    }
}
