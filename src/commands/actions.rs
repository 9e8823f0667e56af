//! Commands that change guests: `start stop shutdown reboot reset suspend resume destroy
//! snapshot rollback delsnapshot set tag template`.
//!
//! Each resolves its targets the way `status` does (arguments, else the guests piped in, else the
//! current VM), plans one [`Action`] per guest, checks the safety policy (protected guests and
//! quotas refuse with exit 4 before any request), and then stages the destructive ones and runs
//! the rest at once through the same executor `commit` uses. Nothing here prints.

use std::sync::atomic::Ordering;

use serde_json::{Map, Value as Json};

use super::{
    Arg, ArgKind, Call, Category, Command, Ctx, Example, Output, Signature, ex, flag_text,
};
use crate::api::{GuestKind, endpoints};
use crate::error::{Error, Result};
use crate::inventory::Guest;
use crate::lang::Value;
use crate::staging::{
    self, Action, ActionKind, ConfigChange, ExecOptions, OUTCOME_COLUMNS, Op, Precondition, Target,
    outcome_records, policy,
};

const VM: Arg = Arg::opt(
    "vm",
    ArgKind::Vm,
    "VMID, name, prefix or @selector (default: piped guests or the current VM)",
);

const DRY_RUN: Arg = Arg::switch(
    "--dry-run",
    "show the plan and the requests; stage and send nothing",
);

/// The guests a change applies to, after skipping `skip` leading positionals (a snapshot name...).
async fn targets(ctx: &mut Ctx, call: &Call, skip: usize) -> Result<Vec<Guest>> {
    let mut words: Vec<String> = call
        .args
        .positionals
        .iter()
        .skip(skip)
        .map(|w| w.text.clone())
        .collect();
    if words.is_empty() {
        words = super::read::piped_vmids(&call.input);
        if words.is_empty() && !call.input.is_null() {
            return Ok(Vec::new());
        }
    }
    ctx.targets(&words).await
}

pub(super) fn target_of(g: &Guest) -> Target {
    Target {
        vmid: g.vmid,
        node: g.node.clone(),
        guest_kind: g.kind,
        name: g.name.clone(),
    }
}

/// PVE's `pve-configid` format for snapshot names: a letter, then letters, digits, `-` or `_`.
fn check_snapname(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 40;
    if ok {
        Ok(())
    } else {
        Err(
            Error::usage(format!("'{name}' is not a valid snapshot name"))
                .hinted("start with a letter; then letters, digits, - or _; at most 40 characters"),
        )
    }
}

/// The typed operation `kind` stands for, from the call's words and flags. Config changes
/// (`set`, `tag`) are filled in per guest later.
fn op_of(kind: ActionKind, call: &Call) -> Result<Op> {
    let snapname = || -> Result<String> {
        let usage = format!("{} SNAPSHOT [VM...]", kind.as_str());
        let name = super::changes::positional(call, 0, "the snapshot name", &usage)?;
        check_snapname(&name)?;
        Ok(name)
    };
    Ok(match kind {
        ActionKind::Shutdown => Op::Shutdown {
            timeout: match flag_text(call, "timeout") {
                None => None,
                Some(t) => Some(
                    t.parse::<u64>()
                        .map_err(|_| Error::usage(format!("--timeout takes seconds, got '{t}'")))?,
                ),
            },
            force_stop: call.args.has_flag("force-stop"),
        },
        ActionKind::Destroy => Op::Destroy {
            purge: call.args.has_flag("purge"),
            unreferenced_disks: false,
        },
        ActionKind::Snapshot => Op::Snapshot {
            name: snapname()?,
            vmstate: call.args.has_flag("vmstate"),
            description: flag_text(call, "description"),
        },
        ActionKind::Rollback => Op::Rollback {
            name: snapname()?,
            start: call.args.has_flag("start"),
        },
        ActionKind::Delsnapshot => Op::Delsnapshot { name: snapname()? },
        ActionKind::Template => Op::Template,
        ActionKind::Set => Op::Set(ConfigChange::default()),
        ActionKind::Tag => Op::Tag(ConfigChange::default()),
        other => Op::power(other).ok_or_else(|| {
            Error::internal(format!(
                "{} is not planned by a guest command",
                other.as_str()
            ))
        })?,
    })
}

/// Accepts the natural orders where they are unambiguous: `snapshot web01 pre-upgrade` (the
/// guest first) is `snapshot pre-upgrade web01`, and `tag +staging web02` is `tag add staging
/// web02`. A lone guest name where the snapshot name belongs says which argument is which.
async fn natural_order(ctx: &mut Ctx, call: &mut Call, kind: ActionKind) -> Result<()> {
    let words = &mut call.args.positionals;
    if kind == ActionKind::Tag {
        if let Some(first) = words.first()
            && let Some(tag) = first.text.strip_prefix('+').filter(|t| !t.is_empty())
        {
            let mut add = first.clone();
            add.text = "add".into();
            let mut name = first.clone();
            name.text = tag.to_string();
            words.splice(0..1, [add, name]);
        }
        return Ok(());
    }
    if !matches!(
        kind,
        ActionKind::Snapshot | ActionKind::Rollback | ActionKind::Delsnapshot
    ) || words.is_empty()
    {
        return Ok(());
    }
    let inv = ctx.inventory().await?;
    let is_guest = |w: &str| inv.resolve(w).is_ok_and(|g| !g.is_empty());
    let verb = kind.as_str();
    if words.len() == 1 && call.input.is_null() && is_guest(&words[0].text) {
        let w = &words[0].text;
        return Err(
            Error::usage(format!("{verb} needs a snapshot name; '{w}' is a guest")).hinted(
                format!("the name comes first: `{verb} NAME {w}` (`snapshots {w}` lists them)"),
            ),
        );
    }
    if words.len() >= 2 && is_guest(&words[0].text) && !is_guest(&words[1].text) {
        words.swap(0, 1);
    }
    Ok(())
}

/// Plans `kind` on the call's targets, checks the policy, stages what must stage and runs the
/// rest at once.
async fn apply(ctx: &mut Ctx, mut call: Call, kind: ActionKind, skip: usize) -> Result<Output> {
    // Fresh statuses: a stale cache would plan a stop for a guest someone already stopped.
    ctx.refresh().await?;
    natural_order(ctx, &mut call, kind).await?;
    let op = op_of(kind, &call)?;
    let guests = targets(ctx, &call, skip).await?;
    if guests.is_empty() {
        return Ok(Output::value(Value::List(Vec::new())).with_empty("no guests: nothing to do"));
    }
    let needs_config =
        kind.always_destructive() || matches!(kind, ActionKind::Set | ActionKind::Tag);
    let mut actions = Vec::new();
    for g in &guests {
        if kind == ActionKind::Reset && g.kind == GuestKind::Lxc {
            return Err(Error::usage(format!(
                "{} is a container: containers have no reset",
                g.label()
            ))
            .hinted("use `reboot` or `stop` then `start`"));
        }
        if matches!(op, Op::Snapshot { vmstate: true, .. }) && g.kind == GuestKind::Lxc {
            return Err(Error::usage(
                "--vmstate is for VMs only; containers have no RAM state to save",
            ));
        }
        let word = if g.name.is_empty() {
            g.vmid.to_string()
        } else {
            g.name.clone()
        };
        let stop_first = kind == ActionKind::Destroy && g.status == "running";
        if stop_first && !call.args.has_flag("stop") {
            return Err(Error::usage(format!(
                "{} is running: PVE destroys only stopped guests",
                g.label()
            ))
            .hinted(format!(
                "`destroy {word} --stop` stages a stop first, then the destroy"
            )));
        }
        if kind == ActionKind::Resume && g.status == "stopped" {
            return Err(Error::usage(format!(
                "{} is stopped: resume continues a paused VM",
                g.label()
            ))
            .hinted(format!("to boot it, use `start {word}`")));
        }
        if let Some(why) = staging::status_skip(kind, &g.status) {
            ctx.note(&format!("{}: {why}, nothing to do", g.label()));
            continue;
        }
        let cfg: Map<String, Json> = if needs_config {
            let data = ctx
                .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
                .await?;
            data.as_object().cloned().unwrap_or_default()
        } else {
            Map::new()
        };
        let precondition = Precondition {
            digest: policy::config_text(&cfg, "digest"),
            node: g.node.clone(),
            status: g.status.clone(),
        };
        if stop_first {
            // `destroy --stop`: the stop is its own typed action, planned before the destroy;
            // the executor runs actions on one guest in plan order.
            let reason =
                policy::protection_reason(&ctx.config, g.vmid, &g.name, &g.tags, Some(&cfg));
            if let Some(reason) = reason {
                return Err(policy::protected_error(&g.label(), kind.as_str(), &reason));
            }
            actions.push(Action::new(Op::Stop, target_of(g), precondition.clone()));
        }
        let mut a = Action::new(op.clone(), target_of(g), precondition);
        if matches!(kind, ActionKind::Set | ActionKind::Tag) {
            match super::changes::fill_config_change(ctx, &call, a, g, &cfg)? {
                Some(filled) => a = filled,
                None => continue,
            }
        }
        if a.risk().is_some() {
            let reason =
                policy::protection_reason(&ctx.config, g.vmid, &g.name, &g.tags, Some(&cfg));
            if let Some(reason) = reason {
                return Err(policy::protected_error(&g.label(), kind.as_str(), &reason));
            }
        }
        actions.push(a);
    }
    // A read-only guest among them refuses the whole line, staged part and all.
    ctx.staging.guard.admit(&actions)?;
    if call.args.has_flag("dry-run") {
        return Ok(dry_run(ctx, &actions));
    }
    let policy_now = ctx.config.staging.policy;
    let (staged, now): (Vec<Action>, Vec<Action>) = actions.into_iter().partition(|a| {
        // A change that needs a person's approval stages, whatever the staging policy.
        policy::stages(policy_now, a.risk().is_some()) || ctx.staging.needs_approval(a)
    });
    let mut out = Output::value(Value::List(Vec::new())).with_empty("nothing to do");
    if !staged.is_empty() {
        out = stage(ctx, staged)?;
    }
    for a in &now {
        if let Some(c) = a.config_change().filter(|c| !c.effect.is_empty()) {
            let effects: Vec<String> = c.effect.iter().map(|(k, e)| format!("{k} {e}")).collect();
            ctx.note(&format!("{}: {}", a.target.label(), effects.join(", ")));
        }
    }
    if !now.is_empty() {
        let ran = run_now(ctx, now).await;
        out = ran;
    }
    Ok(out)
}

/// `--dry-run`: the planned actions and the requests they would send; nothing staged or sent.
pub(super) fn dry_run(ctx: &mut Ctx, actions: &[Action]) -> Output {
    ctx.note(&format!(
        "dry run: nothing staged, nothing sent; {} change(s) planned",
        actions.len()
    ));
    Output::value(super::pending::dry_run_records(actions))
        .with_columns(super::pending::DRY_RUN_COLUMNS)
}

/// Puts actions in the pending buffer and returns their rows of the plan.
pub(super) fn stage(ctx: &mut Ctx, staged: Vec<Action>) -> Result<Output> {
    let first = ctx.staging.buffer.len() + 1;
    let count = staged.len();
    ctx.staging.stage(staged)?;
    let records =
        super::pending::pending_records(&ctx.staging.buffer.actions()[first - 1..], first);
    ctx.note(&format!(
        "staged {count} change(s); {} pending (`diff` shows them, `commit` applies)",
        ctx.staging.buffer.len()
    ));
    Ok(Output::value(records).with_columns(super::pending::PENDING_COLUMNS))
}

/// Runs actions at once through the executor; a failed item makes the line fail with exit 3
/// after its outcome table. An action on a read-only guest refuses them all (exit 4).
pub(super) async fn run_now(ctx: &mut Ctx, actions: Vec<Action>) -> Output {
    let exec = ctx.staging.executor(&ctx.client);
    if let Err(refused) = exec.admit(&actions) {
        return Output::none().with_failure(Some(refused));
    }
    if let Err(refused) = ctx.staging.check_approval_gate(&actions) {
        return Output::none().with_failure(Some(refused));
    }
    let opts = ExecOptions {
        keep_going: true,
        check_preconditions: false,
        cancel: ctx.staging.cancel.clone(),
        ..ExecOptions::default()
    };
    ctx.staging.graceful.store(true, Ordering::Relaxed);
    let total = actions.len();
    let outcomes = {
        let mut note = |line: &str| ctx.note(line);
        exec.run(actions, &Default::default(), &opts, &mut note)
            .await
    };
    let failed = outcomes.iter().filter(|o| !o.outcome.is_done()).count();
    let failure = (failed > 0).then(|| {
        Error::new(
            crate::error::ErrorKind::Partial,
            format!("{failed} of {total} action(s) did not succeed (see the table above)"),
        )
    });
    let _ = ctx.refresh().await;
    Output::value(outcome_records(&outcomes))
        .with_columns(OUTCOME_COLUMNS)
        .with_failure(failure)
}

/// A command that plans one kind of action; its signature takes the kind, and with it whether
/// the command is destructive.
macro_rules! change_command {
    ($static:ident, $kind:expr, $skip:expr, $name:expr, $about:expr, $args:expr, $examples:expr) => {
        pub static $static: Command = Command {
            sig: sig($name, $about, $args, $kind, $examples),
            run: |ctx, call| Box::pin(apply(ctx, call, $kind, $skip)),
        };
    };
}

const fn sig(
    name: &'static str,
    about: &'static str,
    args: &'static [Arg],
    action: ActionKind,
    examples: &'static [Example],
) -> Signature {
    Signature {
        name,
        category: Category::Change,
        about,
        args,
        action: Some(action),
        fields: OUTCOME_COLUMNS,
        examples,
    }
}

change_command!(
    START,
    ActionKind::Start,
    0,
    "start",
    "Start guests (runs at once, following each task).",
    &[VM, DRY_RUN],
    &[
        ex("start dev-box", "start one guest"),
        ex(
            "ls | where status=stopped and tags has lab | start",
            "start the guests piped in"
        )
    ]
);
change_command!(
    STOP,
    ActionKind::Stop,
    0,
    "stop",
    "Stop guests at once, like pulling the plug (staged).",
    &[VM, DRY_RUN],
    &[
        ex("stop web01", "stage a hard stop"),
        ex(
            "ls | where tags has ci and type = qemu | stop",
            "stage a stop per guest piped in"
        )
    ]
);
change_command!(
    SHUTDOWN,
    ActionKind::Shutdown,
    0,
    "shutdown",
    "Shut guests down cleanly (staged).",
    &[
        VM,
        Arg::flag("--timeout", ArgKind::Count, "seconds to wait for the guest"),
        Arg::switch("--force-stop", "stop it when the timeout passes"),
        DRY_RUN
    ],
    &[ex(
        "shutdown web02 --timeout 60 --force-stop",
        "stage a clean shutdown, forced after 60 s"
    )]
);
change_command!(
    REBOOT,
    ActionKind::Reboot,
    0,
    "reboot",
    "Reboot guests, applying pending config changes (staged).",
    &[VM, DRY_RUN],
    &[ex("reboot web01", "stage a reboot")]
);
change_command!(
    RESET,
    ActionKind::Reset,
    0,
    "reset",
    "Reset VMs like the reset button (staged).",
    &[VM, DRY_RUN],
    &[ex("reset web01", "stage a hard reset")]
);
change_command!(
    SUSPEND,
    ActionKind::Suspend,
    0,
    "suspend",
    "Pause VMs (staged).",
    &[VM, DRY_RUN],
    &[ex("suspend web01", "stage a pause")]
);
change_command!(
    RESUME,
    ActionKind::Resume,
    0,
    "resume",
    "Resume paused VMs (runs at once; a stopped guest needs `start`).",
    &[VM, DRY_RUN],
    &[ex("resume web01", "resume a paused VM")]
);
change_command!(
    DESTROY,
    ActionKind::Destroy,
    0,
    "destroy",
    "Destroy stopped guests and their disks (staged; cannot be undone; `--stop` for running ones).",
    &[
        VM,
        Arg::switch(
            "--purge",
            "also remove it from backup jobs, replication and HA"
        ),
        Arg::switch(
            "--stop",
            "a running guest: stage a stop first, then the destroy"
        ),
        DRY_RUN
    ],
    &[
        ex("destroy old-app --purge", "stage the removal of a guest"),
        ex(
            "destroy web02 --stop",
            "a running guest: stage a stop, then the destroy"
        )
    ]
);
change_command!(
    SNAPSHOT,
    ActionKind::Snapshot,
    1,
    "snapshot",
    "Take a snapshot of guests (runs at once).",
    &[
        Arg::pos("name", ArgKind::Text, "the snapshot name"),
        VM,
        Arg::switch("--vmstate", "save the RAM too (VMs)"),
        Arg::flag("--description", ArgKind::Text, "a note"),
        DRY_RUN
    ],
    &[
        ex("snapshot pre-maintenance web01", "one guest"),
        ex(
            "ls | where status=running | snapshot pre-maintenance",
            "every running guest, in parallel"
        )
    ]
);
change_command!(
    ROLLBACK,
    ActionKind::Rollback,
    1,
    "rollback",
    "Roll guests back to a snapshot (staged).",
    &[
        Arg::pos("name", ArgKind::Snapshot, "the snapshot name"),
        VM,
        Arg::switch("--start", "start the guest afterwards"),
        DRY_RUN
    ],
    &[ex("rollback pre-upgrade web01", "stage a rollback")]
);
change_command!(
    DELSNAPSHOT,
    ActionKind::Delsnapshot,
    1,
    "delsnapshot",
    "Delete a snapshot of guests (staged).",
    &[
        Arg::pos("name", ArgKind::Snapshot, "the snapshot name"),
        VM,
        DRY_RUN
    ],
    &[ex("delsnapshot pre-upgrade web01", "stage the deletion")]
);
/// `set`: a first word that is an API path (`/...`, `./...`, `../...`) makes it the pvesh-style
/// raw PUT; otherwise it is the guest-config action.
pub static SET: Command = Command {
    sig: sig(
        "set",
        "Change cores, sockets, memory, balloon, name, description, onboot or tags; says per key whether it applies live or at the next reboot. Reductions stage. With an API path first (`set /PATH k=v`), a raw PUT as pvesh does: staged below a guest, at once elsewhere.",
        &[
            Arg::pos(
                "key=value",
                ArgKind::Text,
                "one or more settings (memory in MiB or with a unit: 8G); or an API path, then key=value API parameters",
            ),
            VM,
            DRY_RUN,
        ],
        ActionKind::Set,
        &[
            ex("set memory=8G web01", "more memory (runs at once)"),
            ex("set cores=2 web01", "fewer cores: staged"),
            ex("ls | where tags has lab | set onboot=1", "many guests"),
            ex(
                "set /nodes/pve1/qemu/101/config description='managed by pvesh+'",
                "raw PUT below a guest: staged",
            ),
            ex(
                "set /pools poolid=lab comment=lab",
                "raw PUT elsewhere: runs at once",
            ),
        ],
    ),
    run: |ctx, call| {
        let raw = call
            .args
            .positionals
            .first()
            .is_some_and(|w| w.text.starts_with('/') || w.text.starts_with('.'));
        if raw {
            Box::pin(super::rawapi::raw_write(ctx, call, crate::api::Method::Put))
        } else {
            Box::pin(apply(ctx, call, ActionKind::Set, 0))
        }
    },
};
change_command!(
    TAG,
    ActionKind::Tag,
    2,
    "tag",
    "Add or remove a tag on guests (runs at once).",
    &[
        Arg::pos("op", ArgKind::Choice(&["add", "rm"]), "add or rm"),
        Arg::pos("tag", ArgKind::Text, "the tag"),
        VM,
        DRY_RUN
    ],
    &[
        ex("tag add maintenance web01", "tag one guest"),
        ex(
            "ls | where name =~ ci | tag rm ci",
            "untag the guests piped in"
        )
    ]
);
change_command!(
    TEMPLATE,
    ActionKind::Template,
    0,
    "template",
    "Convert guests to templates (staged; cannot be undone).",
    &[VM, DRY_RUN],
    &[ex("template dev-box", "stage the conversion")]
);
