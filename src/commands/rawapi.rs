//! pvesh-compatible raw writes: `set PATH k=v...` (PUT), `create PATH k=v...` (POST) and
//! `delete PATH [k=v...]` (DELETE), with paths relative to the current API path as for `get`.
//!
//! Writes on or below a guest (`/nodes/N/qemu/ID...`, `/nodes/N/lxc/ID...`) are destructive: the
//! guest must exist on that node and not be protected, config writes obey the quotas, and the
//! write is staged as an [`Op::Raw`] that `commit` sends (re-checking that the guest is
//! still on that node). Writes elsewhere run at once: a task they start is followed to its end,
//! and the answer flows on as records. Creating guests (`create /nodes/N/qemu`, `.../clone`)
//! is checked against `vmid_ranges` and `quotas` first. Every write is audited, secrets redacted.
//! This module never prints and never decides what the server accepts: PVE validates the rest.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::{Arg, ArgKind, Call, Category, Command, Ctx, Example, Output, Signature};
use crate::api::schema::{ApiSchema, MethodInfo};
use crate::api::{GuestKind, Method, TaskLog, WaitOptions, endpoints};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Record, Value};
use crate::staging::{Action, Op, Precondition, Target, guest_of_path, policy};

/// What a creation request would make, and the VMID it asks for: `POST /nodes/N/qemu vmid=..`,
/// `POST /nodes/N/lxc vmid=..` and `POST .../ID/clone newid=..`.
fn creation(
    method: Method,
    path: &str,
    params: &BTreeMap<String, String>,
) -> Result<Option<(policy::NewGuest, Option<u32>)>> {
    if method != Method::Post {
        return Ok(None);
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (kind, key) = match segs.as_slice() {
        ["nodes", _, "qemu"] => (policy::NewGuest::Vm, "vmid"),
        ["nodes", _, "lxc"] => (policy::NewGuest::Container, "vmid"),
        ["nodes", _, "qemu", _, "clone"] => (policy::NewGuest::Vm, "newid"),
        ["nodes", _, "lxc", _, "clone"] => (policy::NewGuest::Container, "newid"),
        _ => return Ok(None),
    };
    let kind = if params.get("template").map(String::as_str) == Some("1") {
        policy::NewGuest::Template
    } else {
        kind
    };
    let vmid = match params.get(key) {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| {
            Error::usage(format!("{key}={v}: expected a VMID (a whole number)"))
                .with_param(key, "expected a VMID (a whole number)")
        })?),
    };
    Ok(Some((kind, vmid)))
}

/// The parameters of a raw write; a key given twice is refused rather than guessed at. (Flags
/// never get here: the signatures declare none, so the engine refuses `--key value`.)
fn params_of(call: &Call) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in &call.args.pairs {
        if out.insert(p.key.clone(), p.value.text.clone()).is_some() {
            return Err(Error::usage(format!(
                "parameter '{}' is given twice",
                p.key
            )));
        }
    }
    Ok(out)
}

/// Runs `set`/`create`/`delete` on an API path: checks, then stages or sends.
pub(super) async fn raw_write(ctx: &mut Ctx, call: Call, method: Method) -> Result<Output> {
    let name = match method {
        Method::Put => "set",
        Method::Post => "create",
        _ => "delete",
    };
    let words: Vec<&str> = call
        .args
        .positionals
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    let word = match words.as_slice() {
        [w] => *w,
        [] => {
            return Err(Error::usage(format!("{name} needs an API path"))
                .hinted(format!("usage: {name} PATH [key=value...]")));
        }
        [_, extra, ..] => {
            return Err(Error::usage(format!(
                "{name} takes one API path, then key=value parameters; '{extra}' is neither"
            ))
            .hinted(format!("usage: {name} PATH [key=value...]")));
        }
    };
    let params = params_of(&call)?;
    let path = super::session::join_path(&ctx.cwd, word);
    if path == "/" {
        return Err(Error::usage(format!("{name} needs a path below /")));
    }
    if let Some((kind, vmid)) = creation(method, &path, &params)? {
        let inv = ctx.refresh().await?;
        let count = inv.guests().iter().filter(|g| !g.template).count();
        policy::check_new_guest(&ctx.config, kind, vmid, count)?;
        policy::check_quotas(&ctx.config, "the new guest", &params, &Map::new())?;
    }
    // A clone (`.../101/clone`) is below a guest too: it stages like any other such write.
    let dry = call.args.has_flag("dry-run");
    match guest_of_path(&path) {
        Some(guest) => stage_on_guest(ctx, method, &path, params, guest, dry).await,
        None if dry => {
            let node = path
                .strip_prefix("/nodes/")
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_default();
            let action = Action::on(raw_op(method, &path, params), Target::node(node), "");
            Ok(super::actions::dry_run(ctx, &[action]))
        }
        None => run_at_once(ctx, method, &path, params).await,
    }
}

/// Whether `key` names a parameter of `m`, counting `net0` as an instance of `net[n]`.
fn known_param(m: &MethodInfo, key: &str) -> bool {
    m.params.iter().any(|p| match p.name.strip_suffix("[n]") {
        Some(stem) => key
            .strip_prefix(stem)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => p.name == key,
    })
}

/// Checks a staged write against the server's schema, so that a wrong parameter name or a
/// missing one is said now rather than at `commit`. Values are left to the server.
fn check_against_schema(
    schema: &ApiSchema,
    method: Method,
    path: &str,
    params: &BTreeMap<String, String>,
) -> Result<()> {
    let usage = |m: Method| {
        format!(
            "`usage {path} --method {}` lists its parameters",
            m.as_str()
        )
    };
    let Some(node) = schema.find(path) else {
        return Err(Error::not_found(format!("{path} is not in the API"))
            .hinted("`usage PATH` and `ls PATH` show what is there"));
    };
    let Some(m) = node.methods.get(method.as_str()) else {
        let has: Vec<&str> = node.methods.keys().map(String::as_str).collect();
        return Err(Error::usage(format!(
            "{path} takes no {}; it takes {}",
            method.as_str(),
            has.join(", ")
        )));
    };
    let unknown: Vec<&str> = params
        .keys()
        .map(String::as_str)
        .filter(|k| !known_param(m, k))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::usage(format!(
            "{} {path} has no parameter {}",
            method.as_str(),
            unknown
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hinted(usage(method)));
    }
    // Path variables (`{node}`, `{vmid}`) are required parameters the path already gives.
    let missing: Vec<&str> = m
        .params
        .iter()
        .filter(|p| !p.optional && !node.path.contains(&format!("{{{}}}", p.name)))
        .map(|p| p.name.as_str())
        .filter(|name| !params.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "{} {path} needs {}",
            method.as_str(),
            missing
                .iter()
                .map(|k| format!("{k}=..."))
                .collect::<Vec<_>>()
                .join(" ")
        ))
        .hinted(usage(method)));
    }
    Ok(())
}

/// Checks a write below a guest (exists there, not protected, quotas) and stages it.
async fn stage_on_guest(
    ctx: &mut Ctx,
    method: Method,
    path: &str,
    params: BTreeMap<String, String>,
    (node, kind, vmid): (String, GuestKind, u32),
    dry: bool,
) -> Result<Output> {
    if let Some(schema) = super::apischema::session_schema(ctx).await? {
        check_against_schema(&schema, method, path, &params)?;
    }
    let inv = ctx.refresh().await?;
    let Some(g) = inv.guest(vmid).filter(|g| g.node == node && g.kind == kind) else {
        let hint = match inv.guest(vmid) {
            Some(g) => format!("it is at {}", g.api_path()),
            None => "`ls` lists the guests".to_string(),
        };
        return Err(
            Error::not_found(format!("no {} {vmid} on node {node}", kind.as_str())).hinted(hint),
        );
    };
    let data = ctx.get(&endpoints::guest_config(kind, &node, vmid)).await?;
    let cfg: Map<String, Json> = data.as_object().cloned().unwrap_or_default();
    let label = g.label();
    if let Some(reason) = policy::protection_reason(&ctx.config, vmid, &g.name, &g.tags, Some(&cfg))
    {
        let what = format!("send {} {path} to", method.as_str());
        return Err(policy::protected_error(&label, &what, &reason));
    }
    if path.ends_with("/config") && method != Method::Delete {
        policy::check_quotas(&ctx.config, &label, &params, &cfg)?;
    }
    let target = Target {
        vmid,
        node: node.clone(),
        guest_kind: kind,
        name: g.name.clone(),
    };
    let pre = Precondition {
        digest: None,
        node,
        status: g.status.clone(),
    };
    let action = Action::new(raw_op(method, path, params), target, pre);
    if dry {
        return Ok(super::actions::dry_run(ctx, &[action]));
    }
    if !policy::stages(ctx.config.staging.policy, true) && !ctx.staging.needs_approval(&action) {
        return Ok(super::actions::run_now(ctx, vec![action]).await);
    }
    let first = ctx.staging.buffer.len() + 1;
    let records = super::pending::pending_records(std::slice::from_ref(&action), first);
    ctx.staging.stage(vec![action])?;
    ctx.note(&format!(
        "staged {} {path} on {label}; {} pending (`diff` shows them, `commit` applies)",
        method.as_str(),
        ctx.staging.buffer.len()
    ));
    Ok(Output::value(records).with_columns(super::pending::PENDING_COLUMNS))
}

fn raw_op(method: Method, path: &str, params: BTreeMap<String, String>) -> Op {
    Op::Raw {
        method: method.as_str().to_string(),
        path: path.to_string(),
        params,
    }
}

/// Sends a write outside any guest now, through the executor (audited); follows a task it
/// starts.
async fn run_at_once(
    ctx: &mut Ctx,
    method: Method,
    path: &str,
    params: BTreeMap<String, String>,
) -> Result<Output> {
    let node = path
        .strip_prefix("/nodes/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let action = Action::on(raw_op(method, path, params), Target::node(node), "");
    ctx.staging
        .check_approval_gate(std::slice::from_ref(&action))?;
    let exec = ctx.staging.executor(&ctx.client);
    let sent = match exec.send(&action).await {
        Ok(sent) => sent,
        Err(e) => {
            let mut err = Error::from(e);
            err.message = action.scrub(&err.message);
            return Err(err);
        }
    };
    let Some(upid) = sent.upid else {
        let _ = ctx.refresh().await;
        return Ok(Output::value(Value::from_pve_json(&sent.data))
            .with_empty("done (the server answered with no data)"));
    };
    let text = upid.to_string();
    ctx.note(&format!("{} {path}: task {text} running", method.as_str()));
    let wait = WaitOptions {
        log: TaskLog::Skip,
        ..WaitOptions::default()
    };
    let waited = exec.follow(&action, &upid, &wait, &mut |_| {}).await;
    let _ = ctx.refresh().await;
    match waited {
        Ok(done) => Ok(Output::value(Value::Record(Record::from_pairs([
            ("upid", Value::String(text)),
            ("exitstatus", Value::String(done.exitstatus)),
        ])))),
        Err(e) => {
            let err = Error::from(e);
            Err(Error::new(
                ErrorKind::Partial,
                format!("task {text} failed: {}", action.scrub(&err.message)),
            ))
        }
    }
}

const PATH: Arg = Arg::pos(
    "path",
    ArgKind::ApiPath,
    "an API path, absolute or relative to `pwd`",
);
const PARAMS: Arg = Arg::opt("params", ArgKind::ApiParam, "key=value API parameters");
const DRY_RUN: Arg = Arg::switch("--dry-run", "show the request; stage and send nothing");

pub static CREATE: Command = Command {
    sig: Signature {
        name: "create",
        category: Category::Change,
        about: "POST to an API path, as pvesh does. Below a guest it stages; elsewhere it runs at once. New guests obey vmid_ranges and the quotas.",
        args: &[PATH, PARAMS, DRY_RUN],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "create /pools poolid=staging comment='for the rollout'",
                about: "create a pool at once",
            },
            Example {
                line: "create /nodes/pve1/qemu/101/snapshot snapname=before",
                about: "stage a snapshot through the raw API",
            },
        ],
    },
    run: |ctx, call| Box::pin(raw_write(ctx, call, Method::Post)),
};

pub static DELETE: Command = Command {
    sig: Signature {
        name: "delete",
        category: Category::Change,
        about: "DELETE an API path, as pvesh does. Below a guest it stages; elsewhere it runs at once.",
        args: &[PATH, PARAMS, DRY_RUN],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "delete /nodes/pve1/qemu/101/snapshot/pre-upgrade",
                about: "stage the deletion of a snapshot",
            },
            Example {
                line: "delete /pools poolid=staging",
                about: "remove an empty pool at once",
            },
        ],
    },
    run: |ctx, call| Box::pin(raw_write(ctx, call, Method::Delete)),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths() {
        let check = |path: &str, expected: Option<(&str, GuestKind, u32)>| {
            let got = guest_of_path(path);
            let got = got.as_ref().map(|(n, k, v)| (n.as_str(), *k, *v));
            assert_eq!(got, expected, "{path}");
        };
        check("/nodes/pve1/qemu/101", Some(("pve1", GuestKind::Qemu, 101)));
        check(
            "/nodes/pve1/qemu/101/config",
            Some(("pve1", GuestKind::Qemu, 101)),
        );
        check(
            "/nodes/pve2/lxc/200/snapshot/x",
            Some(("pve2", GuestKind::Lxc, 200)),
        );
        check("/nodes/pve1/qemu", None);
        check("/nodes/pve1/storage/local", None);
        check("/pools", None);
        check("/nodes/pve1/qemu/abc", None);
    }

    #[test]
    fn creation_requests() {
        use policy::NewGuest::*;
        let p = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let check = |m: Method, path: &str, params: &[(&str, &str)], expected| {
            assert_eq!(creation(m, path, &p(params)).unwrap(), expected, "{path}");
        };
        check(
            Method::Post,
            "/nodes/pve1/qemu",
            &[("vmid", "150")],
            Some((Vm, Some(150))),
        );
        check(
            Method::Post,
            "/nodes/pve1/lxc",
            &[],
            Some((Container, None)),
        );
        check(
            Method::Post,
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "160")],
            Some((Vm, Some(160))),
        );
        check(
            Method::Post,
            "/nodes/pve1/qemu",
            &[("vmid", "9001"), ("template", "1")],
            Some((Template, Some(9001))),
        );
        check(Method::Put, "/nodes/pve1/qemu", &[("vmid", "150")], None);
        check(Method::Post, "/pools", &[("poolid", "x")], None);
        assert!(creation(Method::Post, "/nodes/pve1/qemu", &p(&[("vmid", "x")])).is_err());
    }
}
