//! The pending plan: `pending`, `diff`, `discard`, `commit`, `confirm`, and the session hooks
//! around a confirmed commit's window (checked before every line and at the end of a run).
//!
//! `commit` re-checks every action against the cluster, runs them through the staging executor
//! and returns the outcome table; it never prints (progress goes through [`Ctx::note`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::{Arg, ArgKind, Category, Command, Ctx, Example, Output, Signature};
use crate::error::{Error, Result};
use crate::lang::{Record, Value, parse_duration};
use crate::staging::{
    self, Action, CommitOptions, ConfirmPlan, ExecOptions, Flight, LiveGuest, OUTCOME_COLUMNS,
    outcome_records,
};

/// The columns `pending` shows.
pub const PENDING_COLUMNS: &[&str] = &["n", "action", "vmid", "name", "node", "why", "effect"];

/// `help commit` adds this.
pub const COMMIT_NOTES: &str = "\
Confirmed commits (--confirm DURATION):
  Every affected guest is snapshotted first (pvesh-confirm-<time>), then the
  plan is applied. Unless `confirm` arrives within DURATION, every guest is
  rolled back to that snapshot (guests that were running are started again)
  and a loud notice says so. Actions that no snapshot can undo (destroy,
  template, raw API writes) refuse --confirm.
  The window is checked before every line, by a timer in an interactive shell,
  and when a run ends: a -c, -f or standard-input run that ends inside the
  window ROLLS BACK before it exits (exit code 3), so closing the session never
  leaves a silent half-state. Confirm in the same run (`commit --confirm 5m`
  ... `confirm`) to keep the changes. Leaving the shell inside the window rolls
  back too. If the process dies (closed terminal, kill -9), the window is saved
  next to the pending buffer: the next start announces it, and it rolls back
  when the window ends or when that run ends, unless `confirm` comes first.
Policy (checked when a change is planned, before any request; exit 4 naming
the rule):
  protected guests (`protected:` in the config, a `protected` tag, PVE's
  `protection: 1`) refuse destructive actions, raw writes below them included;
  `quotas.max_cores` and `max_memory` limit `set` (and raw `set .../config`);
  creating a guest (`new`, `create /nodes/N/qemu|lxc`, `create .../clone`)
  must use a VMID inside `vmid_ranges` (vm, ct, template) and stay within
  `quotas.max_vms`, `max_cores`, `max_memory` and, for `new`, `max_disk`.
Raw writes (`set|create|delete PATH k=v`) below a guest are staged; at commit
  they re-check that the guest is still on that node.
Approvals (`help agents`): `commit --request-approval` applies nothing and asks
  a person to approve this exact plan (an id, valid agent.approval_ttl, default
  1h); they run `pvesh-plus approve ID` in a terminal. With
  agent.require_approval: destructive (or all), a commit from -c, -f or
  standard input that needs one is refused with exit 6.
Units: what one `apply FILE` staged is all or nothing. When a commit leaves
  any of it undone, the guests it created are stopped and destroyed again (never
  a guest that existed before; its changes to those stay) and its actions that
  did not start leave the plan: `apply` again. Not after Ctrl-C.
Exit codes: 3 when any action failed or was skipped; 130 after Ctrl-C (the
first Ctrl-C stops launching new actions and waits for the running ones; the
table says what ran and what not).
";

/// Records for a list of planned actions, numbered from `first`.
pub fn pending_records(actions: &[Action], first: usize) -> Value {
    Value::List(
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut r = Record::new();
                r.insert("n", Value::Int((first + i) as i64));
                r.insert("action", Value::String(a.summary()));
                r.insert("vmid", a.target.vmid_value());
                r.insert("name", Value::String(a.target.name.clone()));
                r.insert("node", Value::String(a.target.node.clone()));
                r.insert(
                    "type",
                    Value::String(a.target.guest_kind.as_str().to_string()),
                );
                r.insert("why", a.risk().map_or(Value::Null, Value::String));
                let effect: Vec<String> = a
                    .config_change()
                    .map(|c| c.effect.iter().map(|(k, e)| format!("{k} {e}")).collect())
                    .unwrap_or_default();
                r.insert("effect", Value::String(effect.join(", ")));
                r.insert("status", Value::String(a.precondition.status.clone()));
                r.insert("unit", a.unit.clone().map_or(Value::Null, Value::String));
                r.insert(
                    "digest",
                    a.precondition
                        .digest
                        .clone()
                        .map_or(Value::Null, Value::String),
                );
                Value::Record(r)
            })
            .collect(),
    )
}

/// The rows `diff` shows for a list of planned actions: (n, vmid, name, field, before, after).
pub fn diff_records(actions: &[Action]) -> Vec<Value> {
    let mut rows = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        for (field, before, after) in a.diff() {
            let mut r = Record::new();
            r.insert("n", Value::Int(i as i64 + 1));
            r.insert("vmid", Value::Int(i64::from(a.target.vmid)));
            r.insert("name", Value::String(a.target.name.clone()));
            r.insert("field", Value::String(field));
            r.insert("before", Value::String(before));
            r.insert("after", Value::String(after));
            rows.push(Value::Record(r));
        }
    }
    rows
}

/// The columns a dry run shows.
pub const DRY_RUN_COLUMNS: &[&str] = &["n", "action", "vmid", "name", "method", "path", "params"];

/// What a list of actions would send, one record each: the plan's fields and the request
/// (method, path, parameters with secrets redacted). Sends nothing.
pub fn dry_run_records(actions: &[Action]) -> Value {
    let Value::List(mut rows) = pending_records(actions, 1) else {
        return Value::List(Vec::new());
    };
    for (row, a) in rows.iter_mut().zip(actions) {
        let Value::Record(r) = row else { continue };
        let req = a.request();
        r.insert("method", Value::String(req.method.as_str().to_string()));
        r.insert("path", Value::String(req.path.clone()));
        let params: Vec<String> = a
            .audit_params()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        r.insert("params", Value::String(params.join(" ")));
    }
    Value::List(rows)
}

pub static PENDING: Command = Command {
    sig: Signature {
        name: "pending",
        category: Category::Plan,
        about: "List the staged changes: what, on which guest and node, why it is destructive, and when it takes effect.",
        args: &[],
        action: None,
        fields: &[
            "n", "action", "vmid", "name", "node", "type", "why", "effect", "status", "digest",
            "unit",
        ],
        examples: &[Example {
            line: "pending",
            about: "the plan",
        }],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let flying: Vec<String> = ctx
                .staging
                .buffer
                .in_flight()
                .into_iter()
                .map(|(i, _, f)| flight_note(i, &f))
                .collect();
            for line in flying {
                ctx.note(&line);
            }
            let window = confirm_window_note(ctx).await;
            let empty = if window.is_some() {
                "nothing staged; the confirmed commit above waits for `confirm`"
            } else {
                "nothing pending"
            };
            if let Some(line) = window {
                ctx.note(&line);
            }
            Ok(
                Output::value(pending_records(ctx.staging.buffer.actions(), 1))
                    .with_columns(PENDING_COLUMNS)
                    .with_empty(empty),
            )
        })
    },
};

pub static DIFF: Command = Command {
    sig: Signature {
        name: "diff",
        category: Category::Plan,
        about: "Before and after, per guest, for every staged change.",
        args: &[],
        action: None,
        fields: &["n", "vmid", "name", "field", "before", "after"],
        examples: &[Example {
            line: "diff",
            about: "what the commit would change",
        }],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let rows = diff_records(ctx.staging.buffer.actions());
            Ok(Output::value(Value::List(rows)).with_empty("nothing pending"))
        })
    },
};

pub static DISCARD: Command = Command {
    sig: Signature {
        name: "discard",
        category: Category::Plan,
        about: "Drop staged changes by number (all of them without numbers).",
        args: &[Arg::opt("n", ArgKind::Count, "numbers from `pending`")],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "discard 2 3",
                about: "drop two changes",
            },
            Example {
                line: "discard",
                about: "drop the whole plan",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let mut positions = Vec::new();
            for w in &call.args.positionals {
                let n = w.text.parse::<usize>().map_err(|_| {
                    Error::usage(format!(
                        "discard takes numbers from `pending`, got '{}'",
                        w.text
                    ))
                })?;
                positions.push(n);
            }
            let removed = ctx.staging.buffer.discard(&positions)?;
            ctx.note(&format!(
                "discarded {} change(s); {} pending",
                removed.len(),
                ctx.staging.buffer.len()
            ));
            Ok(Output::none())
        })
    },
};

fn count_flag(call: &super::Call, name: &str, default: usize) -> Result<usize> {
    match call.args.flag(name).and_then(|f| f.value.as_ref()) {
        None => Ok(default),
        Some(w) => w
            .text
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::usage(format!("--{name} takes a number ≥ 1, got '{}'", w.text))),
    }
}

pub static COMMIT: Command = Command {
    sig: Signature {
        name: "commit",
        category: Category::Plan,
        about: "Apply the staged changes: re-check each guest, run with bounded parallelism, follow every task, show an outcome table.",
        args: &[
            Arg::flag(
                "--parallel",
                ArgKind::Count,
                "tasks at once overall (default 32; always at most 4 per node)",
            ),
            Arg::switch("--keep-going", "go on after a failure"),
            Arg::flag(
                "--confirm",
                ArgKind::Text,
                "snapshot first, roll back unless `confirm` comes within this time (5m, 30s)",
            ),
            Arg::switch(
                "--request-approval",
                "apply nothing: ask a person to approve this exact plan (prints its id)",
            ),
            Arg::switch(
                "--dry-run",
                "send nothing: show the requests the commit would send",
            ),
        ],
        action: None,
        fields: OUTCOME_COLUMNS,
        examples: &[
            Example {
                line: "commit",
                about: "apply the plan",
            },
            Example {
                line: "commit --parallel 8 --keep-going",
                about: "faster, and do not stop at a failure",
            },
            Example {
                line: "commit --confirm 5m",
                about: "apply; roll back in 5 minutes unless confirmed",
            },
            Example {
                line: "commit --request-approval",
                about: "an agent asks a person to approve the plan",
            },
            Example {
                line: "commit --dry-run",
                about: "what would be sent, without sending it",
            },
        ],
    },
    run: |ctx, call| Box::pin(commit(ctx, call)),
};

async fn commit(ctx: &mut Ctx, call: super::Call) -> Result<Output> {
    let parallel = count_flag(&call, "parallel", staging::limits::Limits::DEFAULT.overall)?;
    let keep_going = call.args.has_flag("keep-going");
    let confirm = match call.args.flag("confirm").and_then(|f| f.value.as_ref()) {
        None => None,
        Some(w) => Some(parse_duration(&w.text).filter(|s| *s > 0).ok_or_else(|| {
            Error::usage(format!(
                "--confirm takes a duration such as 5m or 30s, got '{}'",
                w.text
            ))
        })?),
    };
    if ctx.staging.buffer.is_empty() {
        ctx.note("nothing to commit");
        return Ok(Output::none());
    }
    if call.args.has_flag("request-approval") {
        return super::approvals::request(ctx).await;
    }
    if call.args.has_flag("dry-run") {
        let rows = dry_run_records(ctx.staging.buffer.actions());
        ctx.note(&format!(
            "dry run: nothing was sent; `commit` would send these {} request(s), re-checking each guest first",
            ctx.staging.buffer.len()
        ));
        return Ok(Output::value(rows).with_columns(DRY_RUN_COLUMNS));
    }
    let live = live_guests(&*ctx.refresh().await?);
    ctx.staging.graceful.store(true, Ordering::Relaxed);
    let client = ctx.client.clone();
    let opts = CommitOptions {
        exec: ExecOptions {
            parallel,
            keep_going,
            cancel: ctx.staging.cancel.clone(),
            ..ExecOptions::default()
        },
        confirm,
    };
    let report = {
        let (staging, mut note) = ctx.staging_and_notes();
        staging.commit(&client, &live, &opts, &mut note).await?
    };
    let _ = ctx.refresh().await;
    Ok(Output::value(outcome_records(&report.table()))
        .with_columns(OUTCOME_COLUMNS)
        .with_failure(report.failure()))
}

/// Every guest's node and status now, for the executor's re-checks at commit.
pub(super) fn live_guests(inv: &crate::inventory::Inventory) -> HashMap<u32, LiveGuest> {
    inv.guests()
        .iter()
        .map(|g| {
            (
                g.vmid,
                LiveGuest {
                    node: g.node.clone(),
                    status: g.status.clone(),
                },
            )
        })
        .collect()
}

pub static CONFIRM: Command = Command {
    sig: Signature {
        name: "confirm",
        category: Category::Plan,
        about: "Keep a confirmed commit: cancels its rollback and deletes the safety snapshots.",
        args: &[],
        action: None,
        fields: OUTCOME_COLUMNS,
        examples: &[Example {
            line: "confirm",
            about: "after `commit --confirm 5m`",
        }],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let Some(plan) = staging::take(&ctx.staging.confirm) else {
                return Err(Error::usage("no confirmed commit is waiting").hinted(
                    "`commit --confirm 5m` opens one; an expired one has already rolled back",
                ));
            };
            ctx.note(&format!(
                "confirmed: the changes stay; deleting the snapshots {}",
                plan.snapname
            ));
            let exec = ctx.staging.executor(&ctx.client);
            let opts = ExecOptions {
                check_preconditions: false,
                keep_going: true,
                ..ExecOptions::default()
            };
            let outcomes = {
                let mut note = |l: &str| ctx.note(l);
                exec.run(
                    staging::cleanup_actions(&plan),
                    &HashMap::new(),
                    &opts,
                    &mut note,
                )
                .await
            };
            Ok(Output::value(outcome_records(&outcomes)).with_columns(OUTCOME_COLUMNS))
        })
    },
};

/// Rolls back an open window now, loudly; the exit code says whether every guest came back.
async fn fire_rollback(ctx: &mut Ctx, plan: ConfirmPlan, why: &str) -> bool {
    ctx.note(&staging::rollback_banner(&plan, why));
    let exec = ctx.staging.executor(&ctx.client);
    let outcomes = {
        let mut note = |l: &str| ctx.note(l);
        staging::roll_back(&exec, &plan, &mut note).await
    };
    let failed = outcomes.iter().filter(|o| !o.outcome.is_done()).count();
    if failed == 0 {
        ctx.note("!!! rollback finished: every guest is back to its snapshot");
    } else {
        ctx.note(&format!(
            "!!! rollback: {failed} guest(s) could not be rolled back; check them now"
        ));
    }
    let _ = ctx.refresh().await;
    failed == 0
}

/// What `pending` says of an open confirm window: the time left, and what happens then.
async fn confirm_window_note(ctx: &Ctx) -> Option<String> {
    let plan = staging::peek(&ctx.staging.confirm)?;
    let left = match ctx.staging.clock.now(&ctx.client).await {
        Ok(now) => format!(
            "{} left",
            crate::lang::format_duration(u64::try_from(plan.deadline - now).unwrap_or(0))
        ),
        Err(e) => format!("time left unknown ({})", e.message),
    };
    Some(format!(
        "a confirmed commit waits for `confirm`: {left}, then {} guest(s) roll back to {}",
        plan.guests.len(),
        plan.snapname
    ))
}

/// Before each line: a confirm window whose deadline has passed rolls back now.
pub async fn check_confirm_window(ctx: &mut Ctx) {
    let Some(plan) = staging::peek(&ctx.staging.confirm) else {
        return;
    };
    let now = match ctx.staging.clock.now(&ctx.client).await {
        Ok(now) => now,
        Err(e) => {
            ctx.note(&format!(
                "warning: cannot read the clock for the confirm window: {}",
                e.message
            ));
            return;
        }
    };
    if now < plan.deadline {
        return;
    }
    if let Some(plan) = staging::take(&ctx.staging.confirm) {
        fire_rollback(ctx, plan, "the confirm window expired without `confirm`").await;
    }
}

/// At the end of a `-c`, `-f` or standard-input run: an open confirm window rolls back (exit 3),
/// and a batch that leaves changes pending lists them and exits with
/// [`staging::EXIT_PENDING_LEFT`]. Returns the exit code to use instead of `code`.
pub async fn finish_run(ctx: &mut Ctx, batch: bool, code: i32) -> i32 {
    // The other clusters this run switched to end as this one does: each cluster's own
    // confirm window rolls back, each one's pending changes are named.
    let several = !ctx.contexts.parked.is_empty();
    let mut code = finish_one(ctx, batch, code, several).await;
    for (_, mut other) in std::mem::take(&mut ctx.contexts.parked) {
        code = finish_one(&mut other, batch, code, true).await;
    }
    code
}

/// [`finish_run`] for one cluster's session; `named`: say which cluster the changes left
/// pending are on.
async fn finish_one(ctx: &mut Ctx, batch: bool, code: i32, named: bool) -> i32 {
    let mut code = code;
    if let Some(plan) = staging::take(&ctx.staging.confirm) {
        fire_rollback(
            ctx,
            plan,
            "the run ended inside the confirm window without `confirm`",
        )
        .await;
        code = crate::error::exit::PARTIAL;
    }
    let left = ctx.staging.buffer.len();
    if left > 0
        && let Some(id) = waiting_approval(ctx)
    {
        // Put up for approval on purpose (`--request-approval`): not a plan left behind.
        ctx.note(&format!(
            "{left} change(s) pending, waiting for approval {id}: a person runs `pvesh-plus approve {id}`"
        ));
        return code;
    }
    if left > 0 && batch {
        let lines: Vec<String> = ctx
            .staging
            .buffer
            .actions()
            .iter()
            .enumerate()
            .map(|(i, a)| format!("  {}. {} on {}", i + 1, a.summary(), a.target.label()))
            .collect();
        let kept = if ctx.staging.buffer.path().is_some() {
            "`commit` applies them, `discard` drops them"
        } else {
            "kept in memory only: a --demo run's cluster and its changes end with the run"
        };
        ctx.note(&format!(
            "{left} change(s) pending{}, not applied ({kept}):\n{}",
            if named {
                format!(" on cluster {}", ctx.cluster)
            } else {
                String::new()
            },
            lines.join("\n")
        ));
        if code == crate::error::exit::OK {
            code = staging::EXIT_PENDING_LEFT;
        }
    }
    code
}

/// The open approval request for exactly the pending plan, if there is one.
fn waiting_approval(ctx: &Ctx) -> Option<String> {
    let hash = staging::plan_hash(ctx.staging.buffer.actions());
    let requests = ctx.staging.approvals.list().ok()?;
    requests
        .into_iter()
        .find(|r| r.plan_hash == hash)
        .map(|r| r.id)
}

fn flight_state(flight: &Flight) -> String {
    match flight {
        Flight::Sent(upid) => format!("sent, task {upid}"),
        Flight::Unknown => "being sent: it may have reached the server".to_string(),
    }
}

/// The note `pending` adds for a change the last session had in flight.
fn flight_note(n: usize, flight: &Flight) -> String {
    format!(
        "#{n} was in flight when the last session stopped ({}); `commit` follows it to its end without sending it again",
        flight_state(flight)
    )
}

/// The notice shown at start when an earlier session left changes pending, naming those it
/// had in flight when it stopped; and saved changes of other clusters of the same name, which
/// are not restored.
pub fn restore_notice(ctx: &Ctx) -> Option<String> {
    let foreign = foreign_notice(ctx);
    let n = ctx.staging.buffer.len();
    if n == 0 {
        return foreign;
    }
    let path = ctx
        .staging
        .buffer
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut out = format!(
        "restored {n} pending change(s) from {path}: `pending` lists them, `commit` applies, `discard` drops"
    );
    let flying = ctx.staging.buffer.in_flight();
    if !flying.is_empty() {
        out.push_str(&format!(
            "\n{} of them were in flight when the last session stopped; `commit` follows them \
             to their end and never sends them again:",
            flying.len()
        ));
        for (i, a, flight) in flying {
            out.push_str(&format!(
                "\n  {i}. {} on {} ({})",
                a.summary(),
                a.target.label(),
                flight_state(&flight)
            ));
        }
    }
    if let Some(foreign) = foreign {
        out.push('\n');
        out.push_str(&foreign);
    }
    Some(out)
}

/// What the start says about saved buffers that are not this cluster's.
fn foreign_notice(ctx: &Ctx) -> Option<String> {
    let lines: Vec<String> = ctx
        .staging
        .buffer
        .foreign()
        .iter()
        .map(|f| {
            let (n, file) = (f.changes, f.path.display());
            match &f.identity {
                _ if f.removed => format!(
                    "not restored: {n} pending change(s) of an earlier --demo run ({file}, \
                     removed): every demo run is a new simulated cluster"
                ),
                Some(whose) => format!(
                    "not restored: {n} pending change(s) in {file} belong to another cluster \
                     ({whose}), not to this one; connect to it to see them"
                ),
                None => format!(
                    "not restored: {n} pending change(s) in {file}, saved by an earlier \
                     version of pvesh+ that did not record which cluster they were staged on; \
                     if they are this cluster's, rename the file to {}",
                    ctx.staging
                        .buffer
                        .path()
                        .map_or_else(String::new, |p| p.display().to_string())
                ),
            }
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
