//! The real binary in a pseudo-terminal: typing, Tab completion, Ctrl-C during a slow command,
//! and a history file that keeps no secret after a password + TOTP login.

use crate::common::{PASSWORD, Pty, TestSim, std_cmd};
use pvesh_plus::sim::{DEMO_TFA_SECRET, Faults, SimOptions, totp_code};

const TIMEOUT_MS: u64 = 20_000;

fn shell(sim: &TestSim, home: &std::path::Path, user: &str, password: &str) -> Pty {
    let mut cmd = std_cmd(home);
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
    ])
    .env("PROXMOX_USER", user)
    .env("PROXMOX_PASSWORD", password)
    .env("TERM", "xterm");
    Pty::spawn(cmd, TIMEOUT_MS)
}

#[test]
fn tab_completes_a_guest_then_status_runs_on_the_current_vm() {
    let sim = TestSim::demo();
    let home = tempfile::tempdir().unwrap();
    let mut p = shell(&sim, home.path(), "root@pam", PASSWORD);
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    p.send("use db0").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    // The completed name is echoed on the line: the screen shows db01.
    p.exp_string("db01").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("db01> ").unwrap();
    p.send_line("status").unwrap();
    p.exp_string("vmid:").unwrap();
    p.exp_string("103").unwrap();
    p.exp_string("db01> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn tab_completes_snapshot_names_of_the_current_vm() {
    let sim = TestSim::demo();
    let home = tempfile::tempdir().unwrap();
    let mut p = shell(&sim, home.path(), "root@pam", PASSWORD);
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("use web01").unwrap();
    p.exp_string("web01> ").unwrap();
    p.send("rollback aft").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("after-upgrade").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("web01> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn tab_completes_snapshot_names_of_the_guest_the_line_names() {
    let sim = TestSim::demo();
    let home = tempfile::tempdir().unwrap();
    let mut p = shell(&sim, home.path(), "root@pam", PASSWORD);
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    // No current VM: the names of web01 are fetched when Tab asks for them.
    p.send("rollback web01 aft").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("after-upgrade").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("> ").unwrap();
    // A config key after a guest, not another guest.
    p.send("set web01 cor").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("cores=").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("> ").unwrap();
    // Nodes after `use node`, not guests.
    p.send("use node pve").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("pve2").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn the_prompt_shows_the_current_node_and_path() {
    let sim = TestSim::demo();
    let home = tempfile::tempdir().unwrap();
    let mut p = shell(&sim, home.path(), "root@pam", PASSWORD);
    p.exp_string("type `help`").unwrap();
    p.exp_string("127.0.0.1> ").unwrap();
    p.send_line("use node pve3").unwrap();
    p.exp_string("127.0.0.1@pve3> ").unwrap();
    p.send_line("cd /nodes/pve3").unwrap();
    p.exp_string("127.0.0.1@pve3:/nodes/pve3> ").unwrap();
    // The current VM's own node needs no mention.
    p.send_line("use web01").unwrap();
    p.exp_string("127.0.0.1:/nodes/pve3 web01> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn ctrl_c_cancels_a_slow_command_and_returns_to_the_prompt() {
    let sim = TestSim::demo();
    let home = tempfile::tempdir().unwrap();
    let mut p = shell(&sim, home.path(), "root@pam", PASSWORD);
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    // From now on every answer takes 15 s: `version` would hang that long.
    sim.handle.set_faults(Faults {
        latency_ms: 15_000,
        ..Faults::default()
    });
    let before = sim
        .handle
        .request_log()
        .iter()
        .filter(|r| r.path == "/api2/json/version")
        .count();
    p.send_line("version").unwrap();
    // Ctrl-C only once the command runs (its request reached the server): a Ctrl-C typed
    // before the line editor hands the line over would clear the line instead.
    sim._runtime.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            sim.handle.arrived(before + 1, "/api2/json/version"),
        )
        .await
        .expect("the version request reached the simulator")
    });
    p.send_control('c').unwrap();
    p.exp_string("interrupted").unwrap();
    // The prompt is back, marked because the last command did not succeed.
    p.exp_string("!> ").unwrap();
    sim.handle.set_faults(Faults::default());
    p.send_line("exit").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(
        !rest.contains("release:"),
        "the cancelled command still printed: {rest}"
    );
}

#[test]
fn history_keeps_no_secret_after_a_totp_login() {
    let sim = TestSim::start(SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    });
    let home = tempfile::tempdir().unwrap();
    let mut p = shell(&sim, home.path(), "tfa@pve", "tfa");
    p.exp_string("TOTP code: ").unwrap();
    let code = totp_code(DEMO_TFA_SECRET, sim.handle.now()).unwrap();
    p.send_line(&code).unwrap();
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("ls | count").unwrap();
    p.exp_regex(r"\r\n\d+\r\n").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("get /version password=hunter2secret").unwrap();
    p.exp_string("property is not defined").unwrap();
    p.exp_string("!> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(home.path().join("state/pvesh-plus/history")).unwrap();
    assert!(
        history.contains("ls | count"),
        "history was not written: {history:?}"
    );
    for secret in [code.as_str(), "hunter2secret", "tfa"] {
        assert!(
            !history.contains(secret),
            "history holds '{secret}': {history:?}"
        );
    }
}

#[test]
fn history_keeps_no_secret_parameter_of_any_name() {
    let sim = TestSim::demo();
    let home = tempfile::tempdir().unwrap();
    let mut p = shell(&sim, home.path(), "root@pam", PASSWORD);
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    let lines = [
        "create /cluster/notifications/endpoints/gotify name=g server=https://g.example token=CANARYgotify",
        "create /storage storage=pbs1 type=pbs server=192.0.2.1 datastore=x username=a@pbs encryption-key=CANARYenc",
        "create /cluster/acme/account contact=a@example.com eab-kid=k eab-hmac-key=CANARYhmac",
        "set /access/password userid=root@pam \"password\"=CANARYquoted",
        "set /access/users/root@pam keys=CANARYyubico",
    ];
    for line in lines {
        p.send_line(line).unwrap();
        p.exp_string("error: ").unwrap();
        p.exp_string("!> ").unwrap();
    }
    p.send_line("status web01").unwrap();
    p.exp_string("qmpstatus").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(home.path().join("state/pvesh-plus/history")).unwrap();
    assert!(
        history.contains("status web01"),
        "history was not written: {history:?}"
    );
    assert!(
        !history.contains("CANARY"),
        "history holds a secret: {history:?}"
    );
}

/// On an 80-column terminal, notes and errors wider than it are wrapped at words (hints stay
/// indented as hints); piped, the same lines stay whole (the `-c` tests elsewhere read them).
#[test]
fn notes_and_errors_wrap_at_words_on_an_80_column_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.args([
        "-c",
        "stty cols 80 rows 24 && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_pvesh-plus"),
        "--demo",
        "-c",
        "clone web01 web09 --dry-run; console web02",
    ]);
    for (k, v) in std_cmd(home.path()).get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env_remove("COLUMNS").env("TERM", "xterm");
    let mut p = Pty::spawn(cmd, TIMEOUT_MS);
    p.exp_string(
        "web01 (101) is not a template: PVE makes a full clone (linked clones need a\r\n  template)",
    )
    .unwrap();
    p.exp_string("error: web02 (102) has no serial port:")
        .unwrap();
    let (_, hint) = p
        .exp_regex(r"  hint: add one with [^\r]*\r\n        \S")
        .unwrap();
    assert!(
        hint.len() <= 80 + 12,
        "the hint's first line fits: {hint:?}"
    );
    p.exp_eof().unwrap();
}

/// Leaving a demo shell with changes pending says they are lost (its buffer lives in memory),
/// not that they stay saved.
#[test]
fn leaving_the_demo_with_changes_pending_says_they_are_lost() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std_cmd(home.path());
    cmd.arg("--demo").env("TERM", "xterm");
    let mut p = Pty::spawn(cmd, TIMEOUT_MS);
    p.exp_string("type `help`").unwrap();
    p.send_line("stop web02").unwrap();
    p.exp_string("1 pending").unwrap();
    p.send_line("exit").unwrap();
    let said = p.exp_string("again leaves.").unwrap();
    assert!(said.contains("lost on leaving"), "{said}");
    assert!(!said.contains("stay saved"), "{said}");
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}
