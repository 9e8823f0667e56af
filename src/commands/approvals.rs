//! Approvals: `approvals`, `approve ID`, `reject ID`, and the request a script or agent makes
//! with `commit --request-approval` (or `--request-approval` on the command line).
//!
//! The requests themselves, their binding to the exact plan, expiry and the re-checks live in
//! `staging` (`StagingState::{request_approval, approve, reject}`); this file shapes them into
//! records and refuses `approve` to anyone but a person at a terminal.

use std::sync::atomic::Ordering;

use super::{Arg, ArgKind, Category, Command, Ctx, Example, Output, Signature};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Record, Value, format_duration};
use crate::staging::{
    self, ApprovalRequest, CommitOptions, ExecOptions, OUTCOME_COLUMNS, outcome_records,
};

/// The columns `approvals` shows.
pub const APPROVAL_COLUMNS: &[&str] = &[
    "approval",
    "status",
    "changes",
    "requested_by",
    "expires_in",
    "plan",
];

/// One request as a record: its id, status, who asked, when it expires, the plan (as
/// `pending` shows it) and the diff (as `diff` shows it).
pub fn approval_record(req: &ApprovalRequest, now: i64) -> Value {
    let mut r = Record::new();
    r.insert("approval", Value::String(req.id.clone()));
    let status = if req.is_expired(now) {
        "expired"
    } else {
        "waiting"
    };
    r.insert("status", Value::String(status.into()));
    r.insert("changes", Value::Int(req.plan.len() as i64));
    r.insert("requested_by", Value::String(req.requested_by.clone()));
    r.insert("requested_at", Value::Time(req.requested_at));
    r.insert("expires_at", Value::Time(req.expires_at));
    r.insert(
        "expires_in",
        Value::String(format_duration(req.seconds_left(now))),
    );
    let summary: Vec<String> = req
        .plan
        .iter()
        .map(|a| format!("{} {}", a.summary(), a.target.label()))
        .collect();
    r.insert("plan", Value::String(summary.join("; ")));
    r.insert("plan_hash", Value::String(req.plan_hash.clone()));
    r.insert("actions", super::pending::pending_records(&req.plan, 1));
    r.insert("diff", Value::List(super::pending::diff_records(&req.plan)));
    Value::Record(r)
}

/// The lines a person reads before approving: the plan, then its diff.
pub fn plan_text(req: &ApprovalRequest) -> String {
    let mut out = format!(
        "approval request {}: {} change(s), requested by {}\n",
        req.id,
        req.plan.len(),
        req.requested_by
    );
    for (i, a) in req.plan.iter().enumerate() {
        out.push_str(&format!(
            "  {}. {} on {}{}\n",
            i + 1,
            a.summary(),
            a.target.label(),
            a.risk().map(|r| format!(" — {r}")).unwrap_or_default()
        ));
        for (field, before, after) in a.diff() {
            out.push_str(&format!("       {field}: {before} → {after}\n"));
        }
    }
    out
}

/// `commit --request-approval`: asks for an approval of the whole pending plan and returns the
/// request as a record (its id is what a person approves).
pub async fn request(ctx: &mut Ctx) -> Result<Output> {
    let client = ctx.client.clone();
    let req = ctx.staging.request_approval(&client).await?;
    let now = ctx.staging.clock.now(&client).await?;
    ctx.note(&format!(
        "approval requested: {id} ({n} change(s), valid {ttl}); nothing was applied. A person \
         runs `pvesh-plus approve {id}` in a terminal (or `reject {id}`)",
        id = req.id,
        n = req.plan.len(),
        ttl = format_duration(req.seconds_left(now)),
    ));
    Ok(
        Output::value(approval_record(&req, now)).with_hidden(hidden(&[
            "actions",
            "diff",
            "plan_hash",
        ])),
    )
}

fn hidden(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

fn id_arg(call: &super::Call, usage: &str) -> Result<String> {
    super::changes::positional(call, 0, "the approval id", usage)
}

pub static APPROVALS: Command = Command {
    sig: Signature {
        name: "approvals",
        category: Category::Plan,
        about: "List the approval requests scripts and agents made for this cluster; with an id, its plan and diff.",
        args: &[Arg::opt("id", ArgKind::Text, "an approval id")],
        action: None,
        fields: &[
            "approval",
            "status",
            "changes",
            "requested_by",
            "requested_at",
            "expires_at",
            "expires_in",
            "plan",
            "plan_hash",
            "actions",
            "diff",
        ],
        examples: &[Example {
            line: "approvals",
            about: "the requests waiting for a person",
        }],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let client = ctx.client.clone();
            let now = ctx.staging.clock.now(&client).await?;
            if call.args.positionals.is_empty() {
                let rows: Vec<Value> = ctx
                    .staging
                    .approvals
                    .list()?
                    .iter()
                    .map(|r| approval_record(r, now))
                    .collect();
                return Ok(Output::value(Value::List(rows))
                    .with_columns(APPROVAL_COLUMNS)
                    .with_empty("no approval requests"));
            }
            let id = id_arg(&call, "approvals [ID]")?;
            let req = ctx.staging.approvals.get(&id)?;
            ctx.note(plan_text(&req).trim_end());
            Ok(Output::value(approval_record(&req, now)).with_hidden(hidden(&["actions", "diff"])))
        })
    },
};

pub static APPROVE: Command = Command {
    sig: Signature {
        name: "approve",
        category: Category::Plan,
        about: "Approve a request and apply its plan: re-checks that the pending plan is exactly the one requested, not expired, and that no guest changed since. Only a person at a terminal can approve.",
        args: &[Arg::pos("id", ArgKind::Text, "the approval id")],
        action: None,
        fields: OUTCOME_COLUMNS,
        examples: &[Example {
            line: "approve ffb05ab0",
            about: "apply the plan an agent asked for",
        }],
    },
    run: |ctx, call| Box::pin(approve(ctx, call)),
};

async fn approve(ctx: &mut Ctx, call: super::Call) -> Result<Output> {
    let id = id_arg(&call, "approve ID")?;
    if !ctx.staging.interactive {
        return Err(Error::new(
            ErrorKind::Approval,
            "approve needs a person at a terminal: a script or an agent cannot approve a request",
        )
        .hinted(format!(
            "run `pvesh-plus approve {id}` in a terminal, or `approve {id}` in the interactive shell"
        )));
    }
    let client = ctx.client.clone();
    let req = ctx.staging.check_approval(&client, &id).await?;
    ctx.note(&format!(
        "approving {}: {} change(s) requested by {} (plan unchanged, guests unchanged)",
        req.id,
        req.plan.len(),
        req.requested_by
    ));
    let live = super::pending::live_guests(&*ctx.refresh().await?);
    ctx.staging.graceful.store(true, Ordering::Relaxed);
    let opts = CommitOptions {
        exec: ExecOptions {
            cancel: ctx.staging.cancel.clone(),
            ..ExecOptions::default()
        },
        confirm: None,
    };
    let who = staging::who(ctx.staging.local_user.as_deref(), client.username());
    let (req, report) = {
        let (staging, mut note) = ctx.staging_and_notes();
        staging
            .approve(&client, &id, &who, &live, &opts, &mut note)
            .await?
    };
    ctx.note(&format!(
        "approved {} (requested by {}) as {who}",
        req.id, req.requested_by
    ));
    let _ = ctx.refresh().await;
    Ok(Output::value(outcome_records(&report.table()))
        .with_columns(OUTCOME_COLUMNS)
        .with_failure(report.failure()))
}

pub static REJECT: Command = Command {
    sig: Signature {
        name: "reject",
        category: Category::Plan,
        about: "Reject an approval request: it is gone (recorded in the audit log); the plan stays pending.",
        args: &[Arg::pos("id", ArgKind::Text, "the approval id")],
        action: None,
        fields: APPROVAL_COLUMNS,
        examples: &[Example {
            line: "reject ffb05ab0",
            about: "refuse the plan an agent asked for",
        }],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let id = id_arg(&call, "reject ID")?;
            let client = ctx.client.clone();
            let now = ctx.staging.clock.now(&client).await?;
            let who = staging::who(ctx.staging.local_user.as_deref(), client.username());
            let req = ctx.staging.reject(&id, &who)?;
            ctx.note(&format!(
                "rejected {} (requested by {}); its {} change(s) stay pending: `discard` drops them",
                req.id,
                req.requested_by,
                req.plan.len()
            ));
            let mut record = approval_record(&req, now);
            if let Value::Record(r) = &mut record {
                r.insert("status", Value::String("rejected".into()));
            }
            Ok(Output::value(record).with_hidden(hidden(&["actions", "diff", "plan_hash"])))
        })
    },
};
