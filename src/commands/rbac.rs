//! `rbac bootstrap`: a least-privilege service account for pvesh+, made from an administrator
//! session; `rbac features`: the privileges each pvesh+ feature needs; and `whoami --privs`: what
//! the session's own user or token may do (`GET /access/permissions`).
//!
//! The bootstrap reads first (the caller's rights, the roles, the users) and refuses before
//! sending anything when it cannot finish. Then, through the executor and the audit log like
//! every other change: the role (created, or its privileges set when it exists), the `@pve` user
//! (when missing), an ACL for the user on the path, and an API token without privilege
//! separation (so it holds exactly the role). The token's secret is in the answer of the last
//! call only: it is piped to `--store`'s command, or printed once with `--show-secret`, and
//! never written anywhere else (the audit line of that call says `ok`, nothing more).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;

use serde_json::Value as Json;
use tokio::io::AsyncWriteExt;

use super::{Arg, ArgKind, Call, Category, Command, Ctx, Output, Signature, ex, flag_text};
use crate::api::endpoints::encode_segment;
use crate::api::{ApiRequest, Method};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Record, Value};
use crate::staging::{Action, Op, Target};

/// A pvesh+ feature and the PVE 9 privileges it needs (on `/`, or on the guests and storages
/// it touches). The names are checked against the schema's privilege list by a test.
pub struct Feature {
    pub name: &'static str,
    pub privs: &'static [&'static str],
    pub what: &'static str,
}

pub const FEATURES: &[Feature] = &[
    Feature {
        name: "read",
        privs: &[
            "VM.Audit",
            "Sys.Audit",
            "Datastore.Audit",
            "Pool.Audit",
            "SDN.Audit",
            "Mapping.Audit",
        ],
        what: "ls, show, tasks, dashboard, plan, export",
    },
    Feature {
        name: "agent",
        privs: &["VM.GuestAgent.Audit"],
        what: "guest addresses (ip, ansible, ssh waits)",
    },
    Feature {
        name: "power",
        privs: &["VM.PowerMgmt"],
        what: "start, stop, shutdown, reboot, suspend",
    },
    Feature {
        name: "snapshots",
        privs: &["VM.Snapshot", "VM.Snapshot.Rollback"],
        what: "snapshot, rollback, commit --confirm",
    },
    Feature {
        name: "config",
        privs: &[
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.Options",
            "VM.Config.HWType",
            "VM.Config.CDROM",
            "VM.Config.Cloudinit",
            "VM.Config.Disk",
            "Datastore.AllocateSpace",
        ],
        what: "set, tag, resize, disk add/move/detach",
    },
    Feature {
        name: "create",
        privs: &[
            "VM.Allocate",
            "VM.Clone",
            "Datastore.AllocateSpace",
            "SDN.Use",
        ],
        what: "create, clone, wizards, apply, destroy",
    },
    Feature {
        name: "migrate",
        privs: &["VM.Migrate"],
        what: "migrate, evacuate",
    },
    Feature {
        name: "backups",
        privs: &["VM.Backup", "Datastore.AllocateSpace"],
        what: "backup, restore, backups",
    },
    Feature {
        name: "console",
        privs: &["VM.Console"],
        what: "console",
    },
    Feature {
        name: "images",
        privs: &["Datastore.AllocateTemplate", "Sys.AccessNetwork"],
        what: "ISO and image download and upload",
    },
];

/// What the bootstrap itself needs of the session that runs it.
const ADMIN_NEEDS: &[(&str, &str)] = &[
    ("/access", "Sys.Modify"),
    ("/access/groups", "User.Modify"),
    ("/", "Permissions.Modify"),
];

const DEFAULT_USER: &str = "pveshplus@pve";
const DEFAULT_TOKEN: &str = "cli";
const DEFAULT_ROLE: &str = "ShellPlus.Operator";

pub static RBAC: Command = Command {
    sig: Signature {
        name: "rbac",
        category: Category::Session,
        about: "Least privilege: `rbac bootstrap` makes a role with just what pvesh+ needs, a @pve user, an ACL and an API token whose secret goes to --store; `rbac features` lists the privileges.",
        args: &[
            Arg::pos(
                "op",
                ArgKind::Choice(&["bootstrap", "features"]),
                "bootstrap or features",
            ),
            Arg::flag(
                "--user",
                ArgKind::Text,
                "the service user (default pveshplus@pve)",
            ),
            Arg::flag("--token", ArgKind::Text, "the token's name (default cli)"),
            Arg::flag(
                "--role",
                ArgKind::Text,
                "the role (default ShellPlus.Operator; not PVE...)",
            ),
            Arg::flag(
                "--path",
                ArgKind::Text,
                "where the ACL applies (default /, e.g. /pool/lab)",
            ),
            Arg::flag(
                "--features",
                ArgKind::Text,
                "only these features, comma-separated (default all)",
            ),
            Arg::flag(
                "--store",
                ArgKind::Text,
                "a command that gets the token id and secret on stdin",
            ),
            Arg::switch("--show-secret", "print the secret once instead"),
            Arg::switch("--dry-run", "print the calls; send nothing"),
        ],
        action: None,
        fields: FEATURE_COLUMNS,
        examples: &[
            ex("rbac features", "the privileges each feature needs"),
            ex(
                "rbac bootstrap --store 'pass insert -m pve/plus' --dry-run",
                "the calls a bootstrap would make",
            ),
        ],
    },
    run: |ctx, call| Box::pin(run(ctx, call)),
};

async fn run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let op = call.args.positionals.first().map(|w| w.text.as_str());
    match op {
        Some("features") => Ok(features_table()),
        Some("bootstrap") => bootstrap(ctx, &call).await,
        Some(other) => Err(Error::usage(format!(
            "rbac takes bootstrap or features, got '{other}'"
        ))
        .hinted("rbac bootstrap --store 'pass insert -m pve/plus'")),
        None => Err(Error::usage("rbac: bootstrap or features?")
            .hinted("rbac features lists what each feature needs")),
    }
}

/// A row per feature and privilege (`rbac features | where feature=snapshots`).
fn features_table() -> Output {
    let rows = FEATURES
        .iter()
        .flat_map(|f| {
            f.privs.iter().map(|p| {
                let mut r = Record::new();
                r.insert("feature", Value::String(f.name.into()));
                r.insert("privilege", Value::String(p.to_string()));
                r.insert("for", Value::String(f.what.into()));
                Value::Record(r)
            })
        })
        .collect();
    Output::value(Value::List(rows)).with_columns(FEATURE_COLUMNS)
}

const FEATURE_COLUMNS: &[&str] = &["feature", "privilege", "for"];

/// What `rbac bootstrap` was asked for, checked.
struct Request {
    user: String,
    token: String,
    role: String,
    path: String,
    privs: BTreeSet<&'static str>,
    store: Option<String>,
    show_secret: bool,
}

fn request(call: &Call) -> Result<Request> {
    let user = flag_text(call, "user").unwrap_or_else(|| DEFAULT_USER.into());
    match user.split_once('@') {
        Some((name, realm))
            if !name.is_empty() && !name.contains([' ', ':', '/', '!']) && valid_name(realm) =>
        {
            if realm != "pve" {
                return Err(Error::usage(format!(
                    "--user {user}: the service account must be in the pve realm"
                ))
                .hinted("PVE keeps @pve users itself; for example --user pveshplus@pve"));
            }
        }
        _ => {
            return Err(Error::usage(format!("--user '{user}' is not name@realm"))
                .hinted("for example --user pveshplus@pve"));
        }
    }
    let token = flag_text(call, "token").unwrap_or_else(|| DEFAULT_TOKEN.into());
    if !valid_name(&token) {
        return Err(Error::usage(format!(
            "--token '{token}': a token name starts with a letter and uses letters, digits, . _ -"
        )));
    }
    let role = flag_text(call, "role").unwrap_or_else(|| DEFAULT_ROLE.into());
    if role.is_empty()
        || !role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(Error::usage(format!(
            "--role '{role}': role name contains invalid characters (letters, digits, . - _)"
        )));
    }
    if role.to_ascii_lowercase().starts_with("pve") {
        return Err(Error::usage(format!(
            "--role {role}: PVE refuses role IDs starting with the (case-insensitive) 'PVE' namespace"
        ))
        .hinted(format!("for example --role {DEFAULT_ROLE}")));
    }
    let path = flag_text(call, "path").unwrap_or_else(|| "/".into());
    if !path.starts_with('/') || path.contains("//") || path.contains(' ') {
        return Err(Error::usage(format!("--path '{path}' is not an ACL path"))
            .hinted("for example --path / or --path /pool/lab"));
    }
    let chosen: Vec<&Feature> = match flag_text(call, "features") {
        None => FEATURES.iter().collect(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let f = FEATURES.iter().find(|f| f.name == name).ok_or_else(|| {
                    Error::usage(format!("--features: no feature '{name}'")).hinted(format!(
                        "features: {}",
                        FEATURES
                            .iter()
                            .map(|f| f.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                chosen.push(f);
            }
            chosen
        }
    };
    let privs: BTreeSet<&'static str> = chosen
        .iter()
        .flat_map(|f| f.privs.iter().copied())
        .collect();
    if privs.is_empty() {
        return Err(Error::usage("--features names no feature")
            .hinted("for example --features read,power,snapshots"));
    }
    Ok(Request {
        user,
        token,
        role,
        path,
        privs,
        store: flag_text(call, "store").filter(|s| !s.trim().is_empty()),
        show_secret: call.args.has_flag("show-secret"),
    })
}

/// PVE's rule for realm and token names: a letter, then letters, digits, `.`, `_`, `-`.
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A write outside any guest, as the executor sends it.
fn call_action(method: Method, path: String, params: &[(&str, &str)]) -> Action {
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Action::on(
        Op::Raw {
            method: method.as_str().to_string(),
            path,
            params,
        },
        Target::node(""),
        "",
    )
}

/// The privileges the session holds on `path`.
async fn held_on(ctx: &Ctx, who: Option<&str>, path: &str) -> Result<BTreeSet<String>> {
    let mut req = ApiRequest::get("/access/permissions").param("path", path);
    if let Some(w) = who {
        req = req.param("userid", w);
    }
    let data = ctx.client.get(&req).await?;
    Ok(data
        .get(path)
        .and_then(Json::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default())
}

async fn bootstrap(ctx: &mut Ctx, call: &Call) -> Result<Output> {
    let req = request(call)?;
    let dry_run = call.args.has_flag("dry-run");
    if !dry_run && req.store.is_none() && !req.show_secret {
        return Err(Error::usage(
            "rbac bootstrap: where should the token's secret go? PVE shows it only once",
        )
        .hinted(
            "--store 'pass insert -m pve/plus' pipes it to a command; --show-secret prints it",
        ));
    }
    // What the caller may do: refuse before anything is sent.
    let me = ctx.client.username().to_string();
    let mut lacking = Vec::new();
    for (path, privilege) in ADMIN_NEEDS {
        let path = if *privilege == "Permissions.Modify" {
            req.path.as_str()
        } else {
            path
        };
        if !held_on(ctx, None, path).await?.contains(*privilege) {
            lacking.push(format!("{privilege} on {path}"));
        }
    }
    let realm_path = "/access/realm/pve";
    if !held_on(ctx, None, realm_path)
        .await?
        .contains("Realm.AllocateUser")
    {
        lacking.push(format!("Realm.AllocateUser on {realm_path}"));
    }
    if !lacking.is_empty() {
        return Err(Error::new(
            ErrorKind::Api,
            format!(
                "rbac bootstrap needs an administrator session: {me} lacks {}",
                lacking.join(", ")
            ),
        )
        .hinted("run it once as root@pam (or a user with the Administrator role); then log in with the token it makes"));
    }
    let roles = ctx.client.get(&ApiRequest::get("/access/roles")).await?;
    let existing_role = roles
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["roleid"].as_str() == Some(req.role.as_str()));
    if existing_role.is_some_and(|r| r["special"].as_i64() == Some(1) || r["special"] == true) {
        return Err(Error::usage(format!(
            "--role {}: a built-in role cannot be changed",
            req.role
        ))
        .hinted(format!("choose another name, e.g. --role {DEFAULT_ROLE}")));
    }
    let users = ctx
        .client
        .get(&ApiRequest::get("/access/users").param("full", 1))
        .await?;
    let user_row = users
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["userid"].as_str() == Some(req.user.as_str()));
    let token_id = format!("{}!{}", req.user, req.token);
    let token_exists = user_row.is_some_and(|u| {
        u["tokens"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["tokenid"].as_str() == Some(req.token.as_str()))
    });
    if token_exists {
        return Err(Error::usage(format!(
            "token {token_id} exists already, and PVE never shows a token's secret again"
        ))
        .hinted(format!(
            "choose another name with --token NAME, or delete the old one first: delete /access/users/{}/token/{}",
            req.user, req.token
        )));
    }
    let privs = req.privs.iter().copied().collect::<Vec<_>>().join(",");
    let mut steps = vec![format!(
        "role {} ({}, {} privileges)",
        req.role,
        if existing_role.is_some() {
            "updated"
        } else {
            "new"
        },
        req.privs.len()
    )];
    let mut actions = Vec::new();
    actions.push(match existing_role {
        Some(_) => call_action(
            Method::Put,
            format!("/access/roles/{}", encode_segment(&req.role)),
            &[("privs", &privs)],
        ),
        None => call_action(
            Method::Post,
            "/access/roles".into(),
            &[("roleid", &req.role), ("privs", &privs)],
        ),
    });
    if user_row.is_none() {
        steps.push(format!("user {}", req.user));
        actions.push(call_action(
            Method::Post,
            "/access/users".into(),
            &[
                ("userid", &req.user),
                ("comment", "pvesh+ service account (rbac bootstrap)"),
            ],
        ));
    }
    steps.push(format!(
        "ACL: {} on {} for {}",
        req.role, req.path, req.user
    ));
    actions.push(call_action(
        Method::Put,
        "/access/acl".into(),
        &[
            ("path", &req.path),
            ("roles", &req.role),
            ("users", &req.user),
            ("propagate", "1"),
        ],
    ));
    let token_path = format!(
        "/access/users/{}/token/{}",
        encode_segment(&req.user),
        encode_segment(&req.token)
    );
    steps.push(format!("token {token_id} (privilege separation off)"));
    actions.push(call_action(
        Method::Post,
        token_path.clone(),
        &[("privsep", "0"), ("comment", "pvesh+ (rbac bootstrap)")],
    ));
    if dry_run {
        ctx.note(&format!(
            "dry run: nothing sent; these {} call(s) would be made",
            actions.len()
        ));
        let out = Output::value(Value::String(calls_text(&actions, &steps))).raw();
        match &req.store {
            Some(cmd) => ctx.note(&format!(
                "then the token's id and secret would be piped to `{cmd}`"
            )),
            None => ctx.note("then the token's secret would be printed once"),
        }
        return Ok(out);
    }
    let exec = ctx.staging.executor(&ctx.client);
    exec.admit(&actions)?;
    ctx.staging.check_approval_gate(&actions)?;
    let total = actions.len();
    let mut answer = Json::Null;
    for (i, (action, step)) in actions.iter().zip(&steps).enumerate() {
        ctx.note(&format!("[{}/{total}] {step}", i + 1));
        match exec.send(action).await {
            Ok(sent) => answer = sent.data,
            Err(e) => {
                let mut err = Error::from(e);
                err.message = format!(
                    "rbac bootstrap stopped at step {} of {total} ({step}): {}",
                    i + 1,
                    err.message
                );
                return Err(err.hinted(
                    "the steps before it stay; fix the cause and run the same bootstrap again (it picks up the role and user it finds)",
                ));
            }
        }
    }
    let secret = answer["value"].as_str().unwrap_or_default().to_string();
    let full_id = answer["full-tokenid"]
        .as_str()
        .unwrap_or(&token_id)
        .to_string();
    let mut record = Record::new();
    record.insert("token", Value::String(full_id.clone()));
    record.insert("role", Value::String(req.role.clone()));
    record.insert("path", Value::String(req.path.clone()));
    record.insert("privileges", Value::Int(req.privs.len() as i64));
    if let Some(cmd) = &req.store {
        if let Err(why) = store(cmd, &full_id, &secret).await {
            let why = why.replace(&secret, "<redacted>");
            let undo = call_action(Method::Delete, token_path, &[]);
            let undone = exec.send(&undo).await.is_ok();
            return Err(Error::new(
                ErrorKind::Task,
                format!(
                    "the store command `{cmd}` failed ({why}); {}",
                    if undone {
                        "the token was deleted again, so no unknown secret is left behind"
                    } else {
                        "deleting the token failed too: delete it by hand"
                    }
                ),
            )
            .hinted("fix the command and run the same bootstrap again"));
        }
        record.insert("secret", Value::String(format!("piped to `{cmd}`")));
    } else {
        record.insert("secret", Value::String(secret.clone()));
        ctx.note("the secret is shown this once: PVE never shows it again");
    }
    // What the token can do now, as the server computes it.
    let granted = held_on(ctx, Some(&full_id), &req.path).await?;
    let missing: Vec<&str> = req
        .privs
        .iter()
        .copied()
        .filter(|p| !granted.contains(*p))
        .collect();
    let extra: Vec<&str> = granted
        .iter()
        .map(String::as_str)
        .filter(|p| !req.privs.contains(p))
        .collect();
    if missing.is_empty() && extra.is_empty() {
        ctx.note(&format!(
            "checked: {full_id} holds exactly the role's {} privileges on {}",
            req.privs.len(),
            req.path
        ));
    }
    if !missing.is_empty() {
        ctx.note(&format!(
            "warning: {full_id} lacks {} on {}",
            missing.join(", "),
            req.path
        ));
    }
    if !extra.is_empty() {
        ctx.note(&format!(
            "warning: {full_id} also holds {} on {} (other ACLs of {})",
            extra.join(", "),
            req.path,
            req.user
        ));
    }
    for line in config_hint(&full_id, req.store.as_deref()) {
        ctx.note(&line);
    }
    Ok(Output::value(Value::Record(record)).with_columns(&[
        "token",
        "role",
        "path",
        "privileges",
        "secret",
    ]))
}

/// The calls, one block each: the step, then the request and its parameters, a line each
/// (a long list wrapped at its commas to fit 80 columns).
fn calls_text(actions: &[Action], steps: &[String]) -> String {
    let mut out = String::new();
    for (i, (a, step)) in actions.iter().zip(steps).enumerate() {
        let req = a.request();
        out.push_str(&format!("# {}/{} {step}\n", i + 1, actions.len()));
        out.push_str(&format!("{} {}\n", req.method.as_str(), req.path));
        for (k, v) in a.audit_params() {
            let mut line = format!("    {k}=");
            for (j, part) in v.split(',').enumerate() {
                let sep = if j == 0 { "" } else { "," };
                if j > 0 && line.len() + sep.len() + part.len() > 78 {
                    out.push_str(&line);
                    out.push_str(",\n");
                    line = format!("      {part}");
                } else {
                    line.push_str(sep);
                    line.push_str(part);
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Runs `sh -c CMD` with the secret on its first line of input and the token's id on the next
/// (the layout `pass insert -m` keeps: the first line is the secret).
async fn store(cmd: &str, token_id: &str, secret: &str) -> std::result::Result<(), String> {
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let text = format!("{secret}\ntoken_id: {token_id}\n");
        // A command that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(text.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("cannot wait for it: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim();
    Err(if err.is_empty() {
        out.status.to_string()
    } else {
        format!("{}: {err}", out.status)
    })
}

/// How to use the token from the config, as lines.
fn config_hint(token_id: &str, store: Option<&str>) -> Vec<String> {
    let secret = match store.map(|s| s.trim().strip_prefix("pass insert")) {
        Some(Some(rest)) => {
            let entry = rest.split_whitespace().last().unwrap_or("ENTRY");
            format!("{{ command: \"pass show {entry}\" }}")
        }
        Some(None) => "{ command: \"a command that prints the secret\" }".to_string(),
        None => "{ env: PVE_TOKEN_SECRET }".to_string(),
    };
    vec![
        "to log in with it, give the cluster in cluster-config.yaml:".to_string(),
        "  auth:".to_string(),
        format!("    token_id: \"{token_id}\""),
        format!("    token_secret: {secret}"),
    ]
}

/// `whoami --privs`: the session's effective privileges and which features they allow.
pub async fn privileges(ctx: &mut Ctx) -> Result<Output> {
    let data = ctx
        .client
        .get(&ApiRequest::get("/access/permissions"))
        .await?;
    let tree: BTreeMap<String, BTreeSet<String>> = data
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, privs)| {
            let privs = privs
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            (path.clone(), privs)
        })
        .collect();
    let root = tree.get("/").cloned().unwrap_or_default();
    let mut line = format!(
        "{}: {} privilege(s) on /",
        ctx.client.username(),
        root.len()
    );
    for (i, p) in root.iter().enumerate() {
        let sep = if i == 0 { ": " } else { ", " };
        if line.len() + sep.len() + p.len() > 78 {
            ctx.note(&format!("{},", line));
            line = format!("  {p}");
        } else {
            line.push_str(sep);
            line.push_str(p);
        }
    }
    ctx.note(&line);
    let rows = FEATURES
        .iter()
        .map(|f| {
            let missing: Vec<&str> = f
                .privs
                .iter()
                .copied()
                .filter(|p| !root.contains(*p))
                .collect();
            let allowed = if missing.is_empty() {
                "yes".to_string()
            } else {
                let somewhere: Vec<&str> = tree
                    .iter()
                    .filter(|(_, held)| f.privs.iter().all(|p| held.contains(*p)))
                    .map(|(path, _)| path.as_str())
                    .collect();
                if somewhere.is_empty() {
                    "no".to_string()
                } else {
                    format!("on {}", somewhere.join(", "))
                }
            };
            let mut r = Record::new();
            r.insert("feature", Value::String(f.name.into()));
            r.insert("allowed", Value::String(allowed));
            r.insert("missing", Value::String(missing.join(", ")));
            Value::Record(r)
        })
        .collect();
    Ok(Output::value(Value::List(rows)).with_columns(&["feature", "allowed", "missing"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_feature_needs_the_administrators_privileges() {
        for f in FEATURES {
            for p in f.privs {
                assert!(
                    !matches!(
                        *p,
                        "Sys.Modify" | "Permissions.Modify" | "User.Modify" | "Realm.Allocate"
                    ),
                    "{} needs {p}",
                    f.name
                );
            }
        }
    }

    #[test]
    fn every_privilege_is_one_pve_9_knows() {
        for f in FEATURES {
            for p in f.privs {
                let all = crate::sim::ROLES[0].1;
                assert!(all.contains(p), "{}: {p}", f.name);
            }
        }
    }

    #[test]
    fn the_config_hint_reads_back_what_pass_stored() {
        let hint = config_hint("a@pve!cli", Some("pass insert -m pve/plus"));
        assert_eq!(hint[2], "    token_id: \"a@pve!cli\"");
        assert_eq!(
            hint[3],
            "    token_secret: { command: \"pass show pve/plus\" }"
        );
        assert!(config_hint("a@pve!cli", Some("tee f"))[3].contains("a command that prints"));
        assert!(config_hint("a@pve!cli", None)[3].contains("env: PVE_TOKEN_SECRET"));
    }
}
