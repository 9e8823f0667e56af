//! `console`: the real binary in a pseudo-terminal against the simulator's termproxy and fake
//! serial console (banner, echo, Ctrl-] out, terminal restored, audit line, no ticket shown),
//! the errors that come before any console opens, and the simulator's websocket endpoint
//! itself (ticket checks, plain GET, the first-message login).

use futures_util::{SinkExt, StreamExt};
use pvesh_plus::api::{ApiError, ApiRequest, endpoints};
use pvesh_plus::sim::State;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{PASSWORD, Pty, TestSim, std_cmd};

const TIMEOUT_MS: u64 = 20_000;

/// `pvesh-plus` against the simulator in a pty as `user`, with `args` after the connection
/// options; `-c LINE` runs one line, none starts the shell.
fn pty(sim: &TestSim, user: &str, password: &str, args: &[&str]) -> Pty {
    let mut cmd = std_cmd(sim.home.path());
    cmd.args([
        "--url",
        &sim.handle.url(),
        "--fingerprint",
        &sim.handle.fingerprint(),
    ])
    .args(args)
    .env("PROXMOX_USER", user)
    .env("PROXMOX_PASSWORD", password)
    .env("TERM", "xterm");
    Pty::spawn(cmd, TIMEOUT_MS)
}

fn audit(sim: &TestSim) -> (String, Vec<serde_json::Value>) {
    let path = sim.home.path().join("state/pvesh-plus/audit.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, lines)
}

/// The session the simulator handed out for `vmid`, once `done` holds for it.
fn session(
    sim: &TestSim,
    vmid: u32,
    done: impl Fn(&pvesh_plus::sim::console::ConsoleSession, &State) -> bool,
) -> pvesh_plus::sim::console::ConsoleSession {
    sim.wait_for_state(|s| {
        s.consoles
            .iter()
            .find(|c| c.vmid == vmid && done(c, s))
            .cloned()
    })
}

#[test]
fn console_web01_in_the_shell_logs_in_echoes_and_leaves_with_ctrl_bracket() {
    let sim = TestSim::demo();
    let mut p = pty(&sim, "root@pam", PASSWORD, &[]);
    p.exp_string("type `help`").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("console web01").unwrap();
    let mut seen = p.exp_string("press Ctrl-] to leave").unwrap();
    seen += &p.exp_string("Debian GNU/Linux 12 web01 ttyS0").unwrap();
    seen += &p.exp_string("web01 login: ").unwrap();
    p.send("root\r").unwrap();
    p.flush().unwrap();
    // The far end echoes what it got, CR as CRLF: the terminal is raw (no local echo).
    seen += &p.exp_string("root\r\n").unwrap();
    let typed = session(&sim, 101, |c, _| c.input == b"root\r");
    assert!(typed.connected);
    assert_eq!(typed.serial.as_deref(), Some("serial0"));
    p.send_control(']').unwrap();
    seen += &p
        .exp_string("console of web01 (101) closed (left)")
        .unwrap();
    seen += &p.exp_string("> ").unwrap();
    // The shell is back and works.
    p.send_line("status web01").unwrap();
    seen += &p.exp_string("running").unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
    // The vncproxy task ended with the session; Ctrl-] itself was not sent.
    let ended = session(&sim, 101, |c, s| !c.open(s));
    assert_eq!(ended.input, b"root\r");
    let (text, lines) = audit(&sim);
    let calls: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["action"] == "console").collect();
    assert_eq!(calls.len(), 1, "{text}");
    let call = calls[0];
    assert_eq!(call["event"], "call");
    assert_eq!(call["method"], "POST");
    assert_eq!(call["path"], "/nodes/pve1/qemu/101/termproxy");
    assert_eq!(call["params"]["serial"], "serial0");
    assert_eq!(call["outcome"], "submitted");
    assert_eq!(call["upid"].as_str(), Some(ended.upid.as_str()));
    assert!(ended.upid.contains(":vncproxy:101:"));
    // The ticket is in neither the audit log nor on the screen.
    assert!(!text.contains(&ended.ticket), "{text}");
    assert!(!seen.contains(&ended.ticket));
    assert!(!seen.contains("PVEVNC"));
}

#[test]
fn a_container_console_with_c_restores_the_terminal() {
    let sim = TestSim::demo();
    let bin = env!("CARGO_BIN_EXE_pvesh-plus");
    let line = format!(
        "stty cols 100 rows 30; before=$(stty -g); \
         '{bin}' --url '{}' --fingerprint '{}' -c 'console dns01'; echo rc=$?; \
         [ \"$before\" = \"$(stty -g)\" ] && echo terminal-restored; stty -a",
        sim.handle.url(),
        sim.handle.fingerprint()
    );
    let mut cmd = std_cmd(sim.home.path());
    cmd.env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_PASSWORD", PASSWORD)
        .env("TERM", "xterm");
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", &line]);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let mut p = Pty::spawn(sh, TIMEOUT_MS);
    p.exp_string("connected to the console of dns01 (200)")
        .unwrap();
    p.exp_string("Debian GNU/Linux 12 dns01 tty1").unwrap();
    p.exp_string("dns01 login: ").unwrap();
    p.send("ls -l\r").unwrap();
    p.flush().unwrap();
    p.exp_string("ls -l\r\n").unwrap();
    let s = session(&sim, 200, |c, _| c.input == b"ls -l\r");
    // The window size went first.
    assert_eq!(s.sizes, [(100, 30)]);
    p.send_control(']').unwrap();
    p.exp_string("closed (left)").unwrap();
    p.exp_string("rc=0").unwrap();
    // The terminal settings after the exit are those from before (`stty -g` compared), and
    // the line discipline is canonical again.
    p.exp_string("terminal-restored").unwrap();
    let (_, icanon) = p.exp_regex("[ -]icanon").unwrap();
    assert_eq!(icanon, " icanon");
    p.exp_eof().unwrap();
    let (_, lines) = audit(&sim);
    assert!(
        lines
            .iter()
            .any(|l| l["path"] == "/nodes/pve1/lxc/200/termproxy" && l["action"] == "console"),
        "{lines:#?}"
    );
}

#[test]
fn permission_denied_is_said_and_audited() {
    let sim = TestSim::demo();
    let mut p = pty(&sim, "auditor@pve", "auditor", &["-c", "console web01"]);
    p.exp_string("Permission check failed (/vms/101, VM.Console)")
        .unwrap();
    p.exp_eof().unwrap();
    let (_, lines) = audit(&sim);
    let call = lines.iter().find(|l| l["action"] == "console").unwrap();
    assert!(call["outcome"].as_str().unwrap().starts_with("error: "));
    sim.handle.with_state(|s| assert!(s.consoles.is_empty()));
}

#[test]
fn a_stopped_guest_says_so_before_any_console_opens() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("console dev-box");
    assert_ne!(code, 0);
    assert!(err.contains("VM 120 not running"), "{err}");
    assert!(err.contains("start dev-box"), "{err}");
    let (code, _, err) = sim.run("console build-cache");
    assert_ne!(code, 0);
    assert!(err.contains("CT 202 not running"), "{err}");
    assert_eq!(sim.handle.mutating_count(), 0);
}

#[test]
fn without_a_terminal_or_a_serial_port_it_says_what_is_missing() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("console web01");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("console needs a terminal"), "{err}");
    let (code, _, err) = sim.run("console web02");
    assert_ne!(code, 0);
    assert!(err.contains("has no serial port"), "{err}");
    assert!(err.contains("set serial0=socket web02"), "{err}");
    let (_, _, err) = sim.run("console web01 --serial serial1");
    assert!(
        err.contains("serial interface 'serial1' is not configured"),
        "{err}"
    );
    assert_eq!(sim.handle.mutating_count(), 0);
}

#[test]
fn the_serial_port_hint_works() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("set serial0=socket web02");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("serial0 waits for a reboot"), "{err}");
    let (code, _, err) = sim.run("set serial0=socket dns01");
    assert_ne!(code, 0);
    assert!(err.contains("containers have no such setting"), "{err}");
}

/// `POST termproxy` as the library's client, for the websocket tests.
fn termproxy(sim: &TestSim, client: &pvesh_plus::api::Client) -> serde_json::Value {
    let req = ApiRequest::post("/nodes/pve1/qemu/101/termproxy").param("serial", "serial0");
    sim._runtime.block_on(client.get(&req)).unwrap()
}

#[test]
fn the_websocket_checks_the_vncticket_and_the_login_line() {
    let sim = TestSim::demo();
    let client = sim.client();
    let data = termproxy(&sim, &client);
    let port = u16::try_from(data["port"].as_u64().unwrap()).unwrap();
    let ticket = data["ticket"].as_str().unwrap().to_string();
    assert_eq!(data["user"], "root@pam");
    assert!(port >= 5900);
    let kind = pvesh_plus::api::GuestKind::Qemu;
    // A plain GET (no upgrade) answers the port, as PVE's API does.
    let plain = ApiRequest::get("/nodes/pve1/qemu/101/vncwebsocket")
        .param("port", port)
        .param("vncticket", &ticket);
    let answer = sim._runtime.block_on(client.get(&plain)).unwrap();
    assert_eq!(answer["port"], port.to_string());
    // A wrong vncticket: refused before any upgrade.
    let bad = endpoints::vncwebsocket_path(kind, "pve1", 101, port, "PVEVNC:0::nope");
    let err = sim._runtime.block_on(client.websocket(&bad)).unwrap_err();
    match &err {
        ApiError::Http {
            status,
            message,
            path,
            ..
        } => {
            assert_eq!(*status, 500);
            assert_eq!(message, "permission denied - invalid PVEVNC ticket");
            assert!(!path.contains("nope"), "the ticket leaked into {path}");
        }
        other => panic!("{other:?}"),
    }
    // Each request moves the logical clock by 5 s, and termproxy waits only 10 s: a new one.
    let data = termproxy(&sim, &client);
    let port = u16::try_from(data["port"].as_u64().unwrap()).unwrap();
    let ticket = data["ticket"].as_str().unwrap().to_string();
    // The right ticket upgrades; a wrong login line gets no OK, and the task ends.
    let good = endpoints::vncwebsocket_path(kind, "pve1", 101, port, &ticket);
    sim._runtime.block_on(async {
        let mut ws = client.websocket(&good).await.unwrap();
        ws.send(Message::binary(b"root@pam:wrong\n".to_vec()))
            .await
            .unwrap();
        let next = ws.next().await;
        assert!(
            !matches!(&next, Some(Ok(Message::Binary(b))) if b.starts_with(b"OK")),
            "{next:?}"
        );
    });
    let ended = session(&sim, 101, |c, s| c.ticket == ticket && !c.open(s));
    assert!(!ended.connected);
    // A used-up ticket is refused.
    let again = sim._runtime.block_on(client.websocket(&good)).unwrap_err();
    assert_eq!(again.status(), Some(500));
}

#[test]
fn the_fake_console_speaks_the_termproxy_protocol() {
    use pvesh_plus::api::termproxy::{
        KEEPALIVE, TermproxyTicket, auth_line, input_frame, resize_frame,
    };
    let sim = TestSim::demo();
    let client = sim.client();
    let data = termproxy(&sim, &client);
    let t = TermproxyTicket::from_data("/termproxy", &data).unwrap();
    let kind = pvesh_plus::api::GuestKind::Qemu;
    let path = endpoints::vncwebsocket_path(kind, "pve1", 101, t.port, t.ticket.expose());
    let out = sim._runtime.block_on(async {
        let mut ws = client.websocket(&path).await.unwrap();
        ws.send(Message::binary(auth_line(&t.user, &t.ticket)))
            .await
            .unwrap();
        let mut got = Vec::new();
        for frame in [
            resize_frame(100, 30),
            KEEPALIVE.to_vec(),
            input_frame(b"hi\r"),
        ] {
            ws.send(Message::binary(frame)).await.unwrap();
        }
        while !got.ends_with(b"hi\r\n") {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => got.extend_from_slice(&b),
                other => panic!("{other:?} after {:?}", String::from_utf8_lossy(&got)),
            }
        }
        ws.close(None).await.unwrap();
        String::from_utf8(got).unwrap()
    });
    assert!(out.starts_with("OK"), "{out}");
    assert!(out.contains("web01 login: hi\r\n"), "{out}");
    let s = session(&sim, 101, |c, st| !c.open(st));
    assert_eq!(s.sizes, [(100, 30)]);
    assert_eq!(s.keepalives, 1);
    assert_eq!(s.input, b"hi\r");
}
