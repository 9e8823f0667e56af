//! Declared guests: `plan FILE`, `apply FILE [--prune]` and `profile up|down|rebuild NAME`
//! over `crate::runbook::definitions` (the file format, the comparison, `machines.md`).
//!
//! These read the cluster, hand it to [`definitions::plan::diff`], and stage (or, for
//! `profile up`, run at once) the actions it returns through the same executor every command
//! uses. An imported guest's change, or a conflict, refuses the whole file before anything is
//! staged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Arg, ArgKind, Call, Category, Command, Ctx, Output, Signature, ex, flag_text};
use crate::api::endpoints;
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Record, Value};
use crate::runbook::definitions::{
    self, DefinitionsFile, MachineRow,
    plan::{self as dplan, LiveGuest, Options, Plan},
};
use crate::staging::{Action, Op};

/// The columns of a plan.
pub const PLAN_COLUMNS: &[&str] = &[
    "change", "guest", "vmid", "node", "key", "from", "to", "when", "note",
];

const DEFAULT_FILE: &str = "guests.yaml";

fn file_arg(call: &Call, n: usize) -> PathBuf {
    PathBuf::from(
        call.args
            .positionals
            .get(n)
            .map_or(DEFAULT_FILE.to_string(), |w| w.text.clone()),
    )
}

fn load(path: &Path) -> Result<DefinitionsFile> {
    definitions::load(path).map_err(|e| match e {
        crate::config::ConfigError::Read { path, reason } => Error::not_found(format!(
            "cannot read definitions file {}: {reason}",
            path.display()
        ))
        .hinted(
            "runbooks/guests.example.yaml is a sample; runbooks/_definitions.md describes the format",
        ),
        other => Error::from(other),
    })
}

/// The cluster as the plan sees it: every guest, with the configs the file needs.
async fn live(ctx: &mut Ctx, file: &DefinitionsFile) -> Result<(Vec<LiveGuest>, Vec<String>)> {
    let inv = ctx.refresh().await?;
    let mut out = Vec::new();
    for g in inv.guests() {
        let mut l = LiveGuest {
            vmid: g.vmid,
            name: g.name.clone(),
            node: g.node.clone(),
            kind: Some(g.kind),
            status: g.status.clone(),
            template: g.template,
            tags: g.tags.clone(),
            config: Default::default(),
        };
        if dplan::needs_config(file, &l) {
            let cfg = ctx
                .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
                .await?;
            l.config = cfg.as_object().cloned().unwrap_or_default();
        }
        out.push(l);
    }
    let nodes = inv.nodes().iter().map(|n| n.node.clone()).collect();
    Ok((out, nodes))
}

fn records(plan: &Plan) -> Value {
    Value::List(
        plan.rows
            .iter()
            .map(|r| {
                let mut rec = Record::new();
                let text = |s: &str| Value::String(s.to_string());
                rec.insert("change", text(r.change.as_str()));
                rec.insert("guest", text(&r.guest));
                rec.insert(
                    "vmid",
                    r.vmid.map_or(Value::Null, |v| Value::Int(i64::from(v))),
                );
                rec.insert("node", text(&r.node));
                rec.insert("key", text(&r.key));
                rec.insert("from", text(&r.from));
                rec.insert("to", text(&r.to));
                rec.insert("when", text(&r.when));
                rec.insert("note", text(&r.note));
                Value::Record(rec)
            })
            .collect(),
    )
}

/// Refuses a plan with conflicts (exit 2) or changes to imported or protected guests (exit 4).
fn refuse(plan: &Plan, file: &str) -> Result<()> {
    if let Some(r) = plan.refusals().first() {
        return Err(Error::new(
            ErrorKind::Policy,
            format!("refusing {file}: {}: {}", r.guest, r.note),
        )
        .hinted("nothing was staged; `plan` shows every refused row")
        .hinted(if r.note.contains("imported") {
            "fix the file to match the guest, or make it `mode: managed`"
        } else {
            "protected guests refuse destructive changes"
        }));
    }
    let conflicts = plan.conflicts();
    if let Some(c) = conflicts.first() {
        return Err(Error::usage(format!(
            "{file} conflicts with the cluster ({} conflict(s)); first: {}: {}",
            conflicts.len(),
            c.guest,
            c.note
        ))
        .hinted("nothing was staged; `plan FILE` lists them all"));
    }
    Ok(())
}

/// The file named first on the line, and its plan against the live cluster (`--prune` read).
async fn file_plan(ctx: &mut Ctx, call: &Call) -> Result<(PathBuf, dplan::Plan)> {
    let path = file_arg(call, 0);
    let file = load(&path)?;
    let (live, nodes) = live(ctx, &file).await?;
    let opts = Options {
        prune: call.args.has_flag("prune"),
        only: None,
    };
    let plan = dplan::diff(&file, &live, &nodes, &ctx.config, &opts);
    Ok((path, plan))
}

async fn plan_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let (_, plan) = file_plan(ctx, &call).await?;
    if !plan.conflicts().is_empty() || !plan.refusals().is_empty() {
        ctx.note(&format!(
            "{} conflict(s), {} refused: `apply` refuses this file until they are fixed",
            plan.conflicts().len(),
            plan.refusals().len()
        ));
    }
    Ok(Output::value(records(&plan))
        .with_columns(PLAN_COLUMNS)
        .with_empty("no changes: the cluster matches the file"))
}

async fn apply_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let (path, plan) = file_plan(ctx, &call).await?;
    refuse(&plan, &path.display().to_string())?;
    if plan.actions.is_empty() {
        return Ok(Output::value(Value::List(Vec::new()))
            .with_empty("no changes: the cluster matches the file"));
    }
    if call.args.has_flag("dry-run") {
        return Ok(super::actions::dry_run(ctx, &plan.actions));
    }
    // One unit: a commit that leaves any of it undone destroys the guests it created.
    let unit = format!("apply {}", path.display());
    let actions = plan.actions.into_iter().map(|a| a.in_unit(&unit)).collect();
    super::actions::stage(ctx, actions)
}

pub static PLAN: Command = Command {
    sig: Signature {
        name: "plan",
        category: Category::Plan,
        about: "Compare a definitions file (guests.yaml) with the cluster: guests to create, keys to change (live or at the next reboot), guests not declared, conflicts. Changes nothing.",
        args: &[
            Arg::opt(
                "file",
                ArgKind::Text,
                "the definitions file (default guests.yaml)",
            ),
            Arg::switch(
                "--prune",
                "also plan destroying guests the file does not declare",
            ),
        ],
        action: None,
        fields: PLAN_COLUMNS,
        examples: &[
            ex(
                "plan runbooks/guests.example.yaml",
                "what apply would stage",
            ),
            ex(
                "plan runbooks/guests.example.yaml | where change = create",
                "only the guests to create",
            ),
        ],
    },
    run: |ctx, call| Box::pin(plan_run(ctx, call)),
};

pub static APPLY: Command = Command {
    sig: Signature {
        name: "apply",
        category: Category::Plan,
        about: "Stage the plan of a definitions file: creations (clone or create, then configure) and changes as set actions; `commit` applies. Refuses the whole file when it conflicts or changes an imported guest (exit 4).",
        args: &[
            Arg::opt(
                "file",
                ArgKind::Text,
                "the definitions file (default guests.yaml)",
            ),
            Arg::switch(
                "--prune",
                "also stage destroying guests the file does not declare",
            ),
            Arg::switch("--dry-run", "show the actions and requests; stage nothing"),
        ],
        action: None,
        fields: super::pending::PENDING_COLUMNS,
        examples: &[ex(
            "apply runbooks/guests.example.yaml --dry-run",
            "the actions apply would stage",
        )],
    },
    run: |ctx, call| Box::pin(apply_run(ctx, call)),
};

fn profile_of<'a>(file: &'a DefinitionsFile, name: &str) -> Result<&'a definitions::Profile> {
    file.profiles.get(name).ok_or_else(|| {
        let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
        Error::not_found(format!("no cluster profile '{name}' in {}", file.source)).hinted(
            if known.is_empty() {
                "declare one under `profiles:` (runbooks/_definitions.md)".to_string()
            } else {
                format!("cluster profiles: {}", known.join(", "))
            },
        )
    })
}

/// `down` and `rebuild` destroy: the profile's name must be typed back with `--yes NAME`.
fn confirmed(call: &Call, verb: &str, name: &str) -> Result<()> {
    match flag_text(call, "yes") {
        Some(y) if y == name => Ok(()),
        Some(y) => Err(Error::usage(format!(
            "--yes {y} does not name the cluster profile '{name}'"
        ))
        .hinted(format!("`profile {verb} {name} --yes {name}`"))),
        None => Err(Error::usage(format!(
            "profile {verb} {name} destroys its guests: confirm by typing the profile's name"
        ))
        .hinted(format!("`profile {verb} {name} --yes {name}`"))),
    }
}

async fn profile_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let usage = "profile up|down|rebuild NAME [--file FILE]";
    let verb = super::changes::positional(&call, 0, "up, down or rebuild", usage)?;
    let name = super::changes::positional(&call, 1, "the cluster profile's name", usage)?;
    let path = PathBuf::from(flag_text(&call, "file").unwrap_or_else(|| DEFAULT_FILE.into()));
    let file = load(&path)?;
    let profile = profile_of(&file, &name)?.clone();
    let members: BTreeSet<String> = profile.guests.iter().cloned().collect();
    let (live, nodes) = live(ctx, &file).await?;
    let opts = Options {
        prune: false,
        only: Some(members.clone()),
    };
    let existing: Vec<&LiveGuest> = live
        .iter()
        .filter(|g| !g.template && members.contains(&g.name))
        .collect();
    let mut down = Plan::default();
    for g in &existing {
        dplan::destroy(
            g,
            &ctx.config,
            &format!("cluster profile {name}"),
            &mut down.rows,
            &mut down.actions,
        );
    }
    match verb.as_str() {
        "up" => {
            let plan = dplan::diff(&file, &live, &nodes, &ctx.config, &opts);
            refuse(&plan, &path.display().to_string())?;
            if call.args.has_flag("dry-run") {
                return Ok(Output::value(records(&plan))
                    .with_columns(PLAN_COLUMNS)
                    .with_empty("all of the profile's guests exist: nothing to create"));
            }
            profile_up(ctx, &path, &name, &profile, plan).await
        }
        "down" => {
            confirmed(&call, "down", &name)?;
            refuse(&down, &path.display().to_string())?;
            if down.actions.is_empty() {
                return Ok(Output::value(Value::List(Vec::new()))
                    .with_empty("none of the profile's guests exist: nothing to do"));
            }
            super::actions::stage(ctx, down.actions)
        }
        "rebuild" => {
            confirmed(&call, "rebuild", &name)?;
            refuse(&down, &path.display().to_string())?;
            // Up, planned as if the profile's guests were gone: the same VMIDs come back.
            let gone: Vec<LiveGuest> = live
                .iter()
                .filter(|g| g.template || !members.contains(&g.name))
                .cloned()
                .collect();
            let up = dplan::diff(&file, &gone, &nodes, &ctx.config, &opts);
            refuse(&up, &path.display().to_string())?;
            let mut actions = down.actions;
            actions.extend(up.actions);
            actions.extend(up.created.iter().map(start_action));
            super::actions::stage(ctx, actions)
        }
        other => Err(
            Error::usage(format!("profile takes up, down or rebuild, got '{other}'"))
                .hinted(format!("usage: {usage}")),
        ),
    }
}

/// Starting a guest the plan creates (after its creation: actions on one VMID run in order).
fn start_action(c: &dplan::Created) -> Action {
    Action::on(
        Op::Start,
        crate::staging::Target {
            vmid: c.vmid,
            node: c.node.clone(),
            guest_kind: crate::api::GuestKind::Qemu,
            name: c.name.clone(),
        },
        "stopped",
    )
}

/// Creates the profile's missing guests at once (and starts them), rolls back what it created
/// when a step fails, runs the hooks, and writes `machines.md`.
async fn profile_up(
    ctx: &mut Ctx,
    path: &Path,
    name: &str,
    profile: &definitions::Profile,
    plan: Plan,
) -> Result<Output> {
    let mut actions = plan.actions;
    actions.extend(plan.created.iter().map(start_action));
    if !actions.is_empty() {
        let ran = super::actions::run_now(ctx, actions).await;
        if let Some(failure) = ran.failure.clone() {
            rollback(ctx, &plan.created).await;
            return Err(Error::new(
                failure.kind,
                format!(
                    "profile up {name} failed: {}; the guests it created were destroyed",
                    failure.message
                ),
            ));
        }
    }
    let inv = ctx.refresh().await?;
    let port = profile.ssh_port.unwrap_or(22);
    for c in &plan.created {
        if profile.hooks.is_empty() {
            break;
        }
        let Some(g) = inv.guest(c.vmid).cloned() else {
            continue;
        };
        let ip = answers_ssh(ctx, &g, c.user.as_deref(), port).await?;
        for hook in &profile.hooks {
            let line = hook
                .0
                .replace("{{ip}}", &ip)
                .replace("{{name}}", &c.name)
                .replace("{{vmid}}", &c.vmid.to_string());
            ctx.note(&format!("{}: hook: {line}", c.name));
            let status = tokio::process::Command::new("sh")
                .args(["-c", &line])
                .stdin(std::process::Stdio::null())
                .status()
                .await
                .map_err(|e| Error::internal(format!("cannot run sh: {e}")))?;
            if !status.success() {
                return Err(Error::new(
                    ErrorKind::Partial,
                    format!(
                        "hook `{line}` of {} failed ({status}); the guests stay",
                        c.name
                    ),
                ));
            }
        }
    }
    let mut rows = Vec::new();
    for member in &profile.guests {
        let Some(g) = inv.guests().iter().find(|g| &g.name == member) else {
            continue;
        };
        let addresses = super::guest_ip::reach_address(ctx, g)
            .await
            .map(|a| vec![a])
            .unwrap_or_default();
        rows.push(MachineRow {
            cluster: None,
            name: g.name.clone(),
            vmid: g.vmid,
            node: g.node.clone(),
            kind: g.kind.as_str().to_string(),
            status: g.status.clone(),
            cores: g.maxcpu,
            memory: g.maxmem,
            disk: g.maxdisk,
            addresses,
            tags: g.tags.clone(),
        });
    }
    let out_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(profile.machines.as_deref().unwrap_or("machines.md"));
    let title = format!("Cluster profile {name}");
    let intro = format!(
        "Written by pvesh+ after `profile up {name}`, from the live state of cluster {}.",
        ctx.cluster
    );
    std::fs::write(&out_path, definitions::machines_md(&title, &intro, &rows)).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("cannot write {}: {e}", out_path.display()),
        )
    })?;
    ctx.note(&format!(
        "cluster profile {name}: {} created, {} guest(s) in {}",
        plan.created.len(),
        rows.len(),
        out_path.display()
    ));
    Ok(Output::value(records_of_machines(&rows)).with_columns(&[
        "name",
        "vmid",
        "node",
        "status",
        "cores",
        "memory",
        "addresses",
    ]))
}

fn records_of_machines(rows: &[MachineRow]) -> Value {
    Value::List(
        rows.iter()
            .map(|m| {
                let mut r = Record::new();
                r.insert("name", Value::String(m.name.clone()));
                r.insert("vmid", Value::Int(i64::from(m.vmid)));
                r.insert("node", Value::String(m.node.clone()));
                r.insert("status", Value::String(m.status.clone()));
                r.insert("cores", Value::Int(m.cores as i64));
                r.insert("memory", Value::Size(m.memory));
                r.insert("addresses", Value::String(m.addresses.join(", ")));
                Value::Record(r)
            })
            .collect(),
    )
}

/// How many times a hook's guest is tried over SSH, 2 s apart (about four minutes).
const SSH_ATTEMPTS: usize = 120;

/// Waits until `g` has an address and `ssh USER@IP true` logs in without a prompt (the
/// system's ssh, batch mode); returns the address.
async fn answers_ssh(
    ctx: &mut Ctx,
    g: &crate::inventory::Guest,
    user: Option<&str>,
    port: u16,
) -> Result<String> {
    let mut why = String::new();
    for attempt in 0..SSH_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        let ip = match super::guest_ip::reach_address(ctx, g).await {
            Ok(ip) => ip,
            Err(e) => {
                why = e;
                continue;
            }
        };
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .args(["-o", "StrictHostKeyChecking=accept-new", "-p"])
            .arg(port.to_string());
        if let Some(u) = user {
            cmd.args(["-l", u]);
        }
        let out = cmd
            .args([ip.as_str(), "true"])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| Error::internal(format!("cannot run ssh: {e}")))?;
        if out.status.success() {
            return Ok(ip);
        }
        why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if attempt == 0 {
            ctx.note(&format!("waiting for {} to answer SSH at {ip}…", g.label()));
        }
    }
    Err(Error::new(
        ErrorKind::Connection,
        format!(
            "{} never answered SSH: {why}; its hooks did not run",
            g.label()
        ),
    )
    .hinted("the guests stay; run the hooks by hand once it answers"))
}

/// Destroys the guests a failed `profile up` created (those that exist).
async fn rollback(ctx: &mut Ctx, created: &[dplan::Created]) {
    let Ok(inv) = ctx.refresh().await else {
        return;
    };
    let mut rows = Vec::new();
    let mut actions = Vec::new();
    for c in created {
        let Some(g) = inv.guest(c.vmid).filter(|g| g.name == c.name) else {
            continue;
        };
        let l = LiveGuest {
            vmid: g.vmid,
            name: g.name.clone(),
            node: g.node.clone(),
            kind: Some(g.kind),
            status: g.status.clone(),
            template: false,
            tags: Vec::new(),
            config: Default::default(),
        };
        dplan::destroy(&l, &ctx.config, "rollback", &mut rows, &mut actions);
    }
    if !actions.is_empty() {
        ctx.note("rolling back: destroying the guests this run created");
        let _ = super::actions::run_now(ctx, actions).await;
    }
}

pub static PROFILE: Command = Command {
    sig: Signature {
        name: "profile",
        category: Category::Create,
        about: "A cluster profile of a definitions file (not a VM preset): `up` creates its missing guests at once, starts them, runs its hooks and writes machines.md; `down` stages destroying them and `rebuild` stages down then up, both confirmed with --yes NAME.",
        args: &[
            Arg::pos(
                "op",
                ArgKind::Choice(&["up", "down", "rebuild"]),
                "up, down or rebuild",
            ),
            Arg::pos("name", ArgKind::Text, "the cluster profile"),
            Arg::flag(
                "--file",
                ArgKind::Text,
                "the definitions file (default guests.yaml)",
            ),
            Arg::flag(
                "--yes",
                ArgKind::Text,
                "down, rebuild: the profile's name, typed back",
            ),
            Arg::switch("--dry-run", "up: show what it would create; change nothing"),
        ],
        action: None,
        fields: PLAN_COLUMNS,
        examples: &[
            ex(
                "profile up k8s --file runbooks/guests.example.yaml --dry-run",
                "what up would create",
            ),
            ex(
                "profile down k8s --file runbooks/guests.example.yaml",
                "refused: down needs --yes k8s",
            ),
        ],
    },
    run: |ctx, call| Box::pin(profile_run(ctx, call)),
};
