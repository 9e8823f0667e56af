//! Reaching a guest over the network: `ssh` hands the terminal to the system's ssh client at
//! the guest's address; `wait-ssh` waits until the guest's SSH server answers.
//!
//! The address comes from the guest agent (a container's interfaces), else from the static
//! `ip=` of its config. pvesh+ has no SSH implementation of its own: `ssh` only builds the
//! command line, and `wait-ssh` only reads the server's banner (and, with `--user`, asks the
//! system's ssh to log in without a password prompt).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::guest_ops::one_guest;
use super::{Arg, ArgKind, Call, Category, Command, Ctx, Output, Signature, ex, flag_text};
use crate::api::{GuestKind, endpoints};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Record, Value, parse_duration};

/// How long one connection attempt (connect, then the banner) may take.
const ATTEMPT: Duration = Duration::from_secs(5);
/// The pause between attempts.
const PAUSE: Duration = Duration::from_secs(2);
/// How often a waiting `wait-ssh` says so.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The login user: `--user`, else the guest's cloud-init user (`ciuser`), else ssh's default.
async fn login_user(ctx: &Ctx, call: &Call, g: &crate::inventory::Guest) -> Option<String> {
    if let Some(u) = flag_text(call, "user") {
        return Some(u);
    }
    if g.kind != GuestKind::Qemu {
        return None;
    }
    let cfg = ctx
        .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
        .await
        .ok()?;
    cfg.get("ciuser")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The guest's address, or an error saying why there is none and what to do.
async fn address_of(ctx: &Ctx, g: &crate::inventory::Guest) -> Result<String> {
    super::guest_ip::reach_address(ctx, g).await.map_err(|why| {
        Error::not_found(format!("no address known for {}: {why}", g.label())).hinted(
            match g.kind {
                GuestKind::Qemu => {
                    "start it; the address comes from the QEMU guest agent (agent=1 and qemu-guest-agent in the guest) or a static ipconfig0"
                }
                GuestKind::Lxc => "start it; the address comes from its interfaces or a static ip= in net0",
            },
        )
    })
}

async fn ssh_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    // The words after `--` go to ssh as they are; the guest is named before them.
    let rest_start = call.args.rest.first().map(|w| w.span.start);
    let words: Vec<String> = call
        .args
        .positionals
        .iter()
        .filter(|w| rest_start.is_none_or(|s| w.span.start < s))
        .map(|w| w.text.clone())
        .collect();
    let passed: Vec<String> = call.args.rest.iter().map(|w| w.text.clone()).collect();
    ctx.refresh().await?;
    let g = one_guest(ctx, &call, &words, "ssh to").await?;
    let address = address_of(ctx, &g).await?;
    let user = login_user(ctx, &call, &g).await;
    let mut argv = vec!["ssh".to_string()];
    if let Some(u) = &user {
        argv.push("-l".into());
        argv.push(u.clone());
    }
    argv.push(address.clone());
    argv.extend(passed);
    let verb = if call.args.has_flag("dry-run") {
        "would connect"
    } else {
        "connecting"
    };
    ctx.note(&format!(
        "{verb} to {} at {address}{}",
        g.label(),
        user.as_ref()
            .map(|u| format!(" as {u}"))
            .unwrap_or_default()
    ));
    let mut r = Record::new();
    r.insert("vmid", Value::Int(i64::from(g.vmid)));
    r.insert("name", Value::String(g.name.clone()));
    r.insert("address", Value::String(address));
    r.insert("user", user.map_or(Value::Null, Value::String));
    r.insert("command", Value::String(argv.join(" ")));
    let mut out = Output::value(Value::Record(r));
    if !call.args.has_flag("dry-run") {
        out.handoff = Some(argv);
    }
    Ok(out)
}

pub static SSH: Command = Command {
    sig: Signature {
        name: "ssh",
        category: Category::Session,
        about: "Log in to a guest with the system's ssh, at the address its agent (or config) reports; words after `--` go to ssh.",
        args: &[
            Arg::opt("vm", ArgKind::Vm, "the guest (default: the current VM)"),
            Arg::flag(
                "--user",
                ArgKind::Text,
                "the login (default: its cloud-init user, else ssh's)",
            ),
            Arg::switch("--dry-run", "show the ssh command; run nothing"),
        ],
        action: None,
        fields: &["vmid", "name", "address", "user", "command"],
        examples: &[
            ex("ssh web01", "a shell on web01"),
            ex("ssh web01 --dry-run", "the ssh command it would run"),
            ex("ssh web01 --user root -- uptime", "run one command there"),
        ],
    },
    run: |ctx, call| Box::pin(ssh_run(ctx, call)),
};

/// One attempt: connect and read the server's first line. `Ok` holds the banner.
async fn probe(address: &str, port: u16) -> std::result::Result<String, String> {
    let target = match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => format!("[{a}]:{port}"),
        _ => format!("{address}:{port}"),
    };
    let connect = tokio::net::TcpStream::connect(&target);
    let mut stream = match tokio::time::timeout(ATTEMPT, connect).await {
        Err(_) => return Err("no answer".into()),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(s)) => s,
    };
    let mut buf = vec![0u8; 256];
    let read = tokio::time::timeout(ATTEMPT, stream.read(&mut buf)).await;
    let n = match read {
        Err(_) => return Err("connected, but no banner".into()),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(n)) => n,
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if line.starts_with("SSH-") {
        Ok(line)
    } else if line.is_empty() {
        Err("connected, but it closed without a banner".into())
    } else {
        Err(format!(
            "it answers, but not as SSH: {}",
            line.chars().take(40).collect::<String>()
        ))
    }
}

/// `ssh -o BatchMode=yes ... true`: whether `user` can log in without a prompt.
async fn login_works(address: &str, port: u16, user: &str) -> std::result::Result<(), String> {
    let out = tokio::process::Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-p",
            &port.to_string(),
            "-l",
            user,
            address,
            "true",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run ssh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "login as {user} refused: {}",
            err.lines().last().unwrap_or("").trim()
        ))
    }
}

async fn wait_ssh_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let timeout = match flag_text(&call, "timeout") {
        None => 120,
        Some(t) => parse_duration(&t).ok_or_else(|| {
            Error::usage(format!(
                "--timeout takes seconds or a duration (90s, 5m), got '{t}'"
            ))
        })?,
    };
    let port = match flag_text(&call, "port") {
        None => 22,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| Error::usage(format!("--port takes a port number, got '{p}'")))?,
    };
    let user = flag_text(&call, "user");
    let words: Vec<String> = call
        .args
        .positionals
        .iter()
        .map(|w| w.text.clone())
        .collect();
    let literal = words
        .first()
        .filter(|w| w.parse::<IpAddr>().is_ok())
        .cloned();
    let guest = match literal {
        Some(_) => None,
        None => {
            ctx.refresh().await?;
            Some(one_guest(ctx, &call, &words, "wait for").await?)
        }
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(timeout);
    let mut last_note = started;
    let mut why;
    loop {
        let address = match (&literal, &guest) {
            (Some(a), _) => Ok(a.clone()),
            (None, Some(g)) => super::guest_ip::reach_address(ctx, g).await,
            (None, None) => Err("nothing to wait for".to_string()),
        };
        why = match &address {
            Err(e) => e.clone(),
            Ok(a) => match probe(a, port).await {
                Err(e) => e,
                Ok(banner) => {
                    let login = match &user {
                        Some(u) => login_works(a, port, u).await,
                        None => Ok(()),
                    };
                    match login {
                        Err(e) => e,
                        Ok(()) => {
                            let mut r = Record::new();
                            r.insert("address", Value::String(a.clone()));
                            r.insert("port", Value::Int(i64::from(port)));
                            r.insert("banner", Value::String(banner));
                            r.insert("user", user.clone().map_or(Value::Null, Value::String));
                            r.insert("seconds", Value::Int(started.elapsed().as_secs() as i64));
                            return Ok(Output::value(Value::Record(r)));
                        }
                    }
                }
            },
        };
        let now = Instant::now();
        if now + PAUSE > deadline {
            break;
        }
        if now.duration_since(last_note) >= PROGRESS_EVERY {
            ctx.note(&format!(
                "waiting for SSH ({} s of {timeout} s): {why}",
                now.duration_since(started).as_secs()
            ));
            last_note = now;
        }
        tokio::time::sleep(PAUSE).await;
    }
    let what = match (&literal, &guest) {
        (Some(a), _) => format!("{a}:{port}"),
        (None, Some(g)) => format!("{} (port {port})", g.label()),
        (None, None) => String::new(),
    };
    let hint = match &guest {
        Some(g) if g.status != "running" => format!("start it first: `start {}`", g.vmid),
        _ => "a booting guest may need longer: --timeout 5m".to_string(),
    };
    Err(Error::new(
        ErrorKind::Connection,
        format!("no SSH on {what} after {timeout} s: {why}"),
    )
    .hinted(hint))
}

pub static WAIT_SSH: Command = Command {
    sig: Signature {
        name: "wait-ssh",
        category: Category::Read,
        about: "Wait until a guest (or an address) answers with an SSH banner; with --user, until that user can log in without a prompt.",
        args: &[
            Arg::opt(
                "vm",
                ArgKind::Vm,
                "the guest or an IP address (default: the current VM)",
            ),
            Arg::flag(
                "--timeout",
                ArgKind::Text,
                "how long to wait: seconds or 5m (default 120 s)",
            ),
            Arg::flag("--port", ArgKind::Count, "the SSH port (default 22)"),
            Arg::flag(
                "--user",
                ArgKind::Text,
                "also wait until this user can log in (BatchMode)",
            ),
        ],
        action: None,
        fields: &["address", "port", "banner", "user", "seconds"],
        examples: &[
            ex(
                "wait-ssh dev-box --timeout 0",
                "a stopped guest has no address yet",
            ),
            ex(
                "wait-ssh 127.0.0.1 --port 9 --timeout 0",
                "nothing answers on port 9",
            ),
        ],
    },
    run: |ctx, call| Box::pin(wait_ssh_run(ctx, call)),
};
