//! Fixtures: a simulator per test on its own runtime, and the `pvesh-plus` binary pointed at it.

use std::process::Output;

use assert_cmd::Command;
use pvesh_plus::secret::Secret;
use pvesh_plus::sim::{self, SimHandle, SimOptions};

pub const PASSWORD: &str = "test-password-7Qx";

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

    pub fn demo() -> TestSim {
        TestSim::start(SimOptions {
            speed: 50.0,
            ..SimOptions::default()
        })
    }

    /// `pvesh-plus` connected to this simulator with a password login and a pinned certificate.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::from_std(std_cmd(self.home.path()));
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

    /// Runs one line with `-c` and returns (exit code, stdout, stderr).
    pub fn run(&self, line: &str) -> (i32, String, String) {
        split(self.cmd().args(["-c", line]).output().unwrap())
    }
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
