//! `console VM`: a serial terminal on a VM (or a container's console) through PVE's termproxy.
//!
//! The guest resolves like every guest argument (VMID, name, prefix, current VM) and must be
//! one running guest; a VM needs a serial port that is a socket (`qm terminal` attaches to
//! nothing else). Then, on a terminal only: `POST .../termproxy` goes through the executor as
//! an [`Op::Console`] action (so it is audited), the websocket opens at once (termproxy waits
//! only 10 s), and [`crate::console::attach`] joins it to the terminal until Ctrl-].

use super::{Arg, ArgKind, Call, Category, Command, Ctx, Example, Output, Signature};
use crate::api::termproxy::TermproxyTicket;
use crate::api::{GuestKind, endpoints};
use crate::error::{Error, ErrorKind, Result};
use crate::inventory::Guest;
use crate::staging::{Action, ActionKind, Op, Target};

const SERIALS: &[&str] = &["serial0", "serial1", "serial2", "serial3"];

pub static CONSOLE: Command = Command {
    sig: Signature {
        name: "console",
        category: Category::Change,
        about: "Open a serial console on a VM, or a container's console, in this terminal (Ctrl-] leaves). The VM needs a serial port: `set serial0=socket VM`.",
        args: &[
            Arg::opt(
                "vm",
                ArgKind::Vm,
                "VMID, name or prefix of one guest (default: the current VM)",
            ),
            Arg::flag(
                "--serial",
                ArgKind::Choice(SERIALS),
                "the VM's serial port (default: the one `vga` names, else the first socket)",
            ),
        ],
        action: Some(ActionKind::Console),
        fields: &[],
        examples: &[
            Example {
                line: "console dev-box",
                about: "a stopped guest: PVE's console cannot attach",
            },
            Example {
                line: "console web02",
                about: "a VM without a serial port: how to add one",
            },
        ],
    },
    run: |ctx, call| Box::pin(run(ctx, call)),
};

/// The word a hint names the guest by.
fn word(g: &Guest) -> String {
    if g.name.is_empty() {
        g.vmid.to_string()
    } else {
        g.name.clone()
    }
}

/// The one guest the call names.
async fn guest(ctx: &mut Ctx, call: &Call) -> Result<Guest> {
    let words: Vec<String> = call
        .args
        .positionals
        .iter()
        .map(|w| w.text.clone())
        .collect();
    if words.len() > 1 {
        return Err(Error::usage("console takes one guest")
            .hinted("usage: console [VM] [--serial serialN]"));
    }
    // Fresh statuses: a console on a guest someone just stopped cannot attach.
    ctx.refresh().await?;
    let mut found = ctx.targets(&words).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::not_found("no guest to open a console on")),
        n => Err(Error::usage(format!(
            "'{}' matches {n} guests; console opens one",
            words.join(" ")
        ))
        .hinted("name one guest by VMID or full name")),
    }
}

/// The serial port to attach to, as `qm terminal` picks it, or why there is none.
fn serial_port(g: &Guest, cfg: &serde_json::Value, asked: Option<&str>) -> Result<String> {
    let text = |k: &str| cfg.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let is_socket = |k: &str| text(k).as_deref() == Some("socket");
    let w = word(g);
    let add_hint = |port: &str| {
        format!(
            "add one with `set {port}=socket {w}`; it takes effect when the VM next starts \
             (`reboot {w}`)"
        )
    };
    if let Some(port) = asked {
        return match text(port) {
            None => Err(Error::new(
                ErrorKind::Api,
                format!("{}: serial interface '{port}' is not configured", g.label()),
            )
            .hinted(add_hint(port))),
            Some(_) if !is_socket(port) => Err(Error::new(
                ErrorKind::Api,
                format!("{}: wrong serial type on interface '{port}'", g.label()),
            )
            .hinted(format!(
                "the console attaches to a socket: `set {port}=socket {w}`"
            ))),
            Some(_) => Ok(port.to_string()),
        };
    }
    let from_vga = text("vga")
        .and_then(|v| v.split(',').next().map(str::to_string))
        .filter(|v| SERIALS.contains(&v.as_str()) && is_socket(v));
    from_vga
        .or_else(|| SERIALS.iter().find(|k| is_socket(k)).map(|k| k.to_string()))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Api,
                format!(
                    "{} has no serial port: PVE's console (`qm terminal`) answers \"unable to find a serial interface\"",
                    g.label()
                ),
            )
            .hinted(add_hint("serial0"))
        })
}

async fn run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let asked = call
        .args
        .flag("serial")
        .and_then(|f| f.value.as_ref())
        .map(|w| w.text.clone());
    if let Some(s) = &asked
        && !SERIALS.contains(&s.as_str())
    {
        return Err(Error::usage(format!(
            "--serial takes serial0..serial3, got '{s}'"
        )));
    }
    let g = guest(ctx, &call).await?;
    if g.status != "running" {
        // `qm terminal`'s words; PVE's termproxy would start, then say this on the terminal.
        let what = match g.kind {
            GuestKind::Qemu => "VM",
            GuestKind::Lxc => "CT",
        };
        return Err(Error::new(
            ErrorKind::Api,
            format!("{what} {} not running (status {})", g.vmid, g.status),
        )
        .hinted(format!("start it first: `start {}`", word(&g))));
    }
    let serial = match g.kind {
        GuestKind::Qemu => {
            // The running config: a serial port added since the VM started is not there yet.
            let req = endpoints::guest_config(g.kind, &g.node, g.vmid).flag("current", true);
            let cfg = ctx.get(&req).await?;
            Some(serial_port(&g, &cfg, asked.as_deref())?)
        }
        GuestKind::Lxc => {
            if asked.is_some() {
                return Err(Error::usage(
                    "--serial is for VMs; a container has one console",
                ));
            }
            None
        }
    };
    if !crate::console::has_terminal() {
        return Err(Error::usage("console needs a terminal").hinted(
            "run it in the interactive shell or with -c from a terminal, not in a pipe or script",
        ));
    }
    let target = Target {
        vmid: g.vmid,
        node: g.node.clone(),
        guest_kind: g.kind,
        name: g.name.clone(),
    };
    let action = Action::on(
        Op::Console {
            serial: serial.clone(),
        },
        target,
        &g.status,
    );
    let path = action.request().path;
    let sent = ctx
        .staging
        .executor(&ctx.client)
        .send(&action)
        .await
        .map_err(Error::from)?;
    let ticket = TermproxyTicket::from_data(&path, &sent.data).map_err(Error::from)?;
    let ws_path =
        endpoints::vncwebsocket_path(g.kind, &g.node, g.vmid, ticket.port, ticket.ticket.expose());
    let ws = ctx.client.websocket(&ws_path).await.map_err(Error::from)?;
    let on = serial.map(|s| format!(" on {s}")).unwrap_or_default();
    ctx.note(&format!(
        "connected to the console of {}{on}; press Ctrl-] to leave",
        g.label()
    ));
    let ended = crate::console::attach(ws, &ticket.user, &ticket.ticket)
        .await
        .map_err(|e| Error::new(ErrorKind::Connection, e))?;
    let how = match ended {
        crate::console::Ended::Left => "left",
        crate::console::Ended::Closed => "the far end closed",
        crate::console::Ended::InputClosed => "the keyboard closed",
    };
    ctx.note(&format!("\r\nconsole of {} closed ({how})", g.label()));
    Ok(Output::none())
}
