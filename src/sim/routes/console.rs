//! Consoles (FEATURE-FACTS §4): `POST .../termproxy` for VMs and containers, which starts a
//! `vncproxy` task and hands out a port and a `PVEVNC` ticket, and `GET .../vncwebsocket`,
//! which checks that ticket; the websocket upgrade itself and the fake serial console behind
//! it are `sim::console`.

use serde_json::json;

use super::guest::find;
use super::{ApiError, Ctx, NODE, Perm, Reply, Route, VMID, route};
use crate::sim::console::{ConsoleSession, FIRST_PORT, LAST_PORT};
use crate::sim::state::GuestKind;
use crate::sim::tasks::Effect;

const CONSOLE: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Console"],
    any: false,
};

const WS_PARAMS: &[&str] = &[
    NODE,
    VMID,
    "port:integer min=5900 max=5999",
    "vncticket:string maxlen=512",
];

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "POST",
            "/nodes/{node}/qemu/{vmid}/termproxy",
            "termproxy",
            "object",
            CONSOLE,
            &[
                NODE,
                VMID,
                "serial?:string enum=serial0|serial1|serial2|serial3",
            ],
            termproxy_qemu,
        )
        .protected()
        .desc("Creates a TCP proxy connections."),
        route(
            "POST",
            "/nodes/{node}/lxc/{vmid}/termproxy",
            "termproxy",
            "object",
            CONSOLE,
            &[NODE, VMID],
            termproxy_lxc,
        )
        .protected()
        .desc("Creates a TCP proxy connection."),
        route(
            "GET",
            "/nodes/{node}/qemu/{vmid}/vncwebsocket",
            "vncwebsocket",
            "object",
            CONSOLE,
            WS_PARAMS,
            vncwebsocket_qemu,
        )
        .desc("Opens a websocket for VNC traffic."),
        route(
            "GET",
            "/nodes/{node}/lxc/{vmid}/vncwebsocket",
            "vncwebsocket",
            "object",
            CONSOLE,
            WS_PARAMS,
            vncwebsocket_lxc,
        )
        .desc("Opens a websocket for VNC traffic."),
    ]
}

fn termproxy_qemu(c: &mut Ctx) -> Result<Reply, ApiError> {
    termproxy(c, GuestKind::Qemu)
}

fn termproxy_lxc(c: &mut Ctx) -> Result<Reply, ApiError> {
    termproxy(c, GuestKind::Lxc)
}

/// Like PVE, it succeeds for a stopped guest or one without a serial port too: `qm terminal`
/// fails later, inside the session, and says so on the terminal.
fn termproxy(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    // Without `serial`, PVE takes the serial port the display is on (`vga: serial0`).
    let serial = match kind {
        GuestKind::Qemu => c.str("serial").map(str::to_string).or_else(|| {
            g.cfg("vga")
                .map(|v| v.split(',').next().unwrap_or_default().to_string())
                .filter(|v| v.starts_with("serial"))
        }),
        GuestKind::Lxc => None,
    };
    let vmid = g.vmid;
    let node = g.node.clone();
    let state = &c.state;
    let port = (FIRST_PORT..=LAST_PORT)
        .find(|p| !state.consoles.iter().any(|s| s.port == *p && s.open(state)))
        .ok_or_else(|| ApiError::fail("unable to find free port (5900-5999)"))?;
    let now = c.now();
    let r1 = c.state.next_random();
    let r2 = c.state.next_random();
    let ticket = format!("PVEVNC:{now:08X}::{r1:016x}{r2:016x}");
    let reply = c.spawn(
        "vncproxy",
        vmid.to_string(),
        Vec::new(),
        Ok(()),
        Effect::None,
        None,
    );
    let upid = reply.data.as_str().unwrap_or_default().to_string();
    c.state.consoles.push(ConsoleSession {
        port,
        ticket: ticket.clone(),
        user: c.auth_id.clone(),
        vmid,
        node,
        kind,
        serial,
        upid: upid.clone(),
        connected: false,
        input: Vec::new(),
        sizes: Vec::new(),
        keepalives: 0,
    });
    Ok(Reply::data(json!({
        "port": port,
        "ticket": ticket,
        "user": c.auth_id,
        "upid": upid,
    })))
}

fn vncwebsocket_qemu(c: &mut Ctx) -> Result<Reply, ApiError> {
    vncwebsocket(c, GuestKind::Qemu)
}

fn vncwebsocket_lxc(c: &mut Ctx) -> Result<Reply, ApiError> {
    vncwebsocket(c, GuestKind::Lxc)
}

/// PVE's `verify_vnc_ticket` for the caller and `/vms/{vmid}`: the ticket must be one handed
/// out to this user for this guest and port, whose termproxy still runs and has no client yet
/// (termproxy serves one connection).
fn vncwebsocket(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let vmid = find(c, kind)?.vmid;
    let port = c.int("port").unwrap_or_default();
    let ticket = c.str("vncticket").unwrap_or_default();
    let valid = c.state.consoles.iter().any(|s| {
        i64::from(s.port) == port
            && s.vmid == vmid
            && s.kind == kind
            && s.ticket == ticket
            && s.user == c.auth_id
            && !s.connected
            && s.open(c.state)
    });
    if !valid {
        return Err(ApiError::fail("permission denied - invalid PVEVNC ticket"));
    }
    Ok(Reply::data(json!({ "port": port.to_string() })))
}
