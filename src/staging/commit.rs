//! Committing the pending plan: the orchestration behind `commit`.
//!
//! It refuses what cannot run (an open confirm window; `--confirm` with an action no snapshot
//! can undo), takes the safety snapshots of a confirmed commit, runs the plan through the
//! [`Executor`] with the buffer's journal, settles the buffer (the actions that did not start
//! stay pending, in order, with their ids) and opens the confirm window. Everything it decides
//! reads typed [`Outcome`]s, never message text. It never prints: lines go to `progress`.
//!
//! Units (`Action::unit`, e.g. `apply guests.yaml`) are all or nothing within one commit. A
//! unit is *incomplete* when one of its actions failed, was skipped, or did not start because
//! an earlier action failed. For an incomplete unit the commit then destroys, through the same
//! executor, the guests the unit created: its clones and creations that are done, and the VMID
//! of one that failed when that VMID now exists but did not before the commit (a half-done
//! clone). A guest that existed before the commit is never destroyed, and changes the unit made
//! to such guests stay (a progress line says so). The unit's actions that did not start leave
//! the plan: planning it again (`apply` again) starts from the cluster as it now is.
//! Not rolled back: a run interrupted by Ctrl-C (nothing more is sent; what did not start stays
//! pending and `commit` finishes the unit) and a refused run (nothing was sent).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value as Json;

use super::action::{Action, Op, Precondition, Target};
use super::confirm::{ConfirmPlan, snapshot_actions, snapshot_name};
use super::executor::{ExecOptions, Executor, ItemOutcome, LiveGuest, Outcome};
use super::{StagingState, spawn_confirm_timer};
use crate::api::{Client, GuestKind, endpoints};
use crate::error::{Error, ErrorKind, Result};

/// What `commit` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub exec: ExecOptions,
    /// `--confirm`: seconds until an unconfirmed commit rolls back.
    pub confirm: Option<u64>,
}

/// What a commit did.
#[derive(Debug, Default)]
pub struct CommitReport {
    pub outcomes: Vec<ItemOutcome>,
    /// Actions that did not start and stay pending.
    pub kept: usize,
    /// The incomplete units whose creations were rolled back.
    pub rolled_back: Vec<RolledBack>,
    /// What the rollbacks sent (stop, destroy), shown after the plan's outcomes.
    pub rollback_outcomes: Vec<ItemOutcome>,
}

/// An incomplete unit of a commit, rolled back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolledBack {
    pub unit: String,
    /// The guests it created that were destroyed again.
    pub destroyed: Vec<u32>,
    /// The guests it created that are still there, and why.
    pub left: Vec<(u32, String)>,
    /// Its actions that had not started, taken out of the plan.
    pub dropped: usize,
}

/// What an incomplete unit may have created: the guests to destroy if they exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UnitRollback {
    pub unit: String,
    pub created: Vec<Target>,
    /// Its actions on guests that existed before the commit that are done (they stay).
    pub kept_changes: usize,
}

/// True when an outcome leaves its unit incomplete (see the module docs).
fn breaks_unit(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::Failed { .. } | Outcome::Skipped { .. } | Outcome::NotStarted { .. }
    )
}

/// The incomplete units of a run, in plan order, each with the guests it created or may have
/// half created, never one in `live` (the cluster before the commit). None after Ctrl-C.
pub(super) fn incomplete_units(
    outcomes: &[ItemOutcome],
    live: &HashMap<u32, LiveGuest>,
) -> Vec<UnitRollback> {
    if outcomes
        .iter()
        .any(|o| matches!(o.outcome, Outcome::Interrupted))
    {
        return Vec::new();
    }
    let mut units: Vec<UnitRollback> = Vec::new();
    for o in outcomes {
        let Some(unit) = &o.action.unit else { continue };
        if !outcomes
            .iter()
            .any(|x| x.action.unit.as_ref() == Some(unit) && breaks_unit(&x.outcome))
        {
            continue;
        }
        let at = match units.iter().position(|u| &u.unit == unit) {
            Some(i) => i,
            None => {
                units.push(UnitRollback {
                    unit: unit.clone(),
                    created: Vec::new(),
                    kept_changes: 0,
                });
                units.len() - 1
            }
        };
        let u = &mut units[at];
        match o.action.creates() {
            Some(t)
                if !live.contains_key(&t.vmid)
                    && (o.outcome.is_done() || matches!(o.outcome, Outcome::Failed { .. }))
                    && !u.created.iter().any(|c| c.vmid == t.vmid) =>
            {
                u.created.push(t);
            }
            Some(_) => {}
            None => {
                let before = o.action.target.is_guest() && live.contains_key(&o.action.target.vmid);
                if before && o.outcome.is_done() {
                    u.kept_changes += 1;
                }
            }
        }
    }
    units
}

/// The unit's guests as the cluster has them now: the ones to stop (if running) and destroy,
/// and the VMIDs left alone because another guest holds them now, with why. A VMID that does not exist is left out (a creation that
/// failed before making anything).
fn destroy_actions(unit: &UnitRollback, now: &[Json]) -> (Vec<Action>, Vec<(u32, String)>) {
    let mut actions = Vec::new();
    let mut left = Vec::new();
    for c in &unit.created {
        let Some(row) = now
            .iter()
            .find(|r| r.get("vmid").and_then(Json::as_u64) == Some(u64::from(c.vmid)))
        else {
            continue;
        };
        let text = |k: &str| row.get(k).and_then(Json::as_str).unwrap_or_default();
        // A half-done clone may have no name yet; any other name is not ours.
        if !text("name").is_empty() && text("name") != c.name {
            left.push((
                c.vmid,
                format!("it is now '{}', not {}", text("name"), c.name),
            ));
            continue;
        }
        let target = Target {
            vmid: c.vmid,
            node: if text("node").is_empty() {
                c.node.clone()
            } else {
                text("node").to_string()
            },
            guest_kind: GuestKind::from_type(text("type")).unwrap_or(c.guest_kind),
            name: c.name.clone(),
        };
        let status = text("status");
        let pre = Precondition::unchecked(&target, status);
        if status == "running" {
            actions.push(Action::new(Op::Stop, target.clone(), pre.clone()));
        }
        actions.push(Action::new(
            Op::Destroy {
                purge: true,
                unreferenced_disks: true,
            },
            target,
            pre,
        ));
    }
    (actions, left)
}

impl CommitReport {
    /// Outcomes that are not `done`.
    pub fn bad(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !o.outcome.is_done())
            .count()
    }

    /// The outcome table: the plan's, then what its rollbacks sent.
    pub fn table(&self) -> Vec<ItemOutcome> {
        let mut all = self.outcomes.clone();
        all.extend(self.rollback_outcomes.iter().cloned());
        all
    }

    /// The summary error of a commit that did not fully succeed (exit 3), if it did not.
    pub fn failure(&self) -> Option<Error> {
        let bad = self.bad();
        if bad == 0 {
            return None;
        }
        let count =
            |f: fn(&Outcome) -> bool| self.outcomes.iter().filter(|o| f(&o.outcome)).count();
        if let Some(o) = self
            .outcomes
            .iter()
            .find(|o| matches!(o.outcome, Outcome::Refused { .. }))
        {
            return Some(
                Error::new(ErrorKind::Policy, o.outcome.detail().to_string()).hinted(
                    "nothing was sent and the plan is still pending: `discard` the change to \
                     the read-only guest, then commit again",
                ),
            );
        }
        let mut message = format!(
            "{bad} of {} change(s) did not succeed: {} failed, {} skipped, {} not run (see the table above)",
            self.outcomes.len(),
            count(|o| matches!(o, Outcome::Failed { .. })),
            count(|o| matches!(o, Outcome::Skipped { .. })),
            count(Outcome::stays_pending),
        );
        let mut err_hints = Vec::new();
        for r in &self.rolled_back {
            let ids = |v: Vec<u32>| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            message.push_str(&format!("; {} was rolled back", r.unit));
            if !r.destroyed.is_empty() {
                message.push_str(&format!(
                    ": destroyed the guest(s) it created: {}",
                    ids(r.destroyed.clone())
                ));
            }
            if !r.left.is_empty() {
                message.push_str(&format!(
                    "; NOT destroyed: {}",
                    r.left
                        .iter()
                        .map(|(v, why)| format!("{v} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                err_hints.push(format!(
                    "check {} by hand: {} created it",
                    ids(r.left.iter().map(|(v, _)| *v).collect()),
                    r.unit
                ));
            }
            err_hints.push(format!(
                "fix the cause, then `{}` stages it again from the cluster as it is",
                r.unit
            ));
        }
        let mut e = Error::new(ErrorKind::Partial, message);
        for h in err_hints {
            e = e.hinted(h);
        }
        Some(e)
    }
}

impl StagingState {
    /// The executor for this session: audited, and journaled into this buffer's journal.
    pub fn executor(&self, client: &Client) -> Executor {
        let exec = Executor::new(client.clone(), self.audit.clone())
            .with_journal(self.buffer.journal())
            .with_guard(self.guard.clone())
            .with_progress(self.progress.clone());
        match &self.byte_progress {
            Some(bytes) => exec.with_byte_progress(bytes.clone()),
            None => exec,
        }
    }

    /// Puts actions in the pending buffer (saved at once), unless one of them would change a
    /// read-only guest: then nothing is staged and the refusal says which rule (exit 4).
    pub fn stage(&mut self, actions: Vec<Action>) -> Result<()> {
        self.guard.admit(&actions)?;
        self.buffer.push(actions)
    }

    /// Commits the pending plan. `live` is the cluster's view of every guest right now. A
    /// non-interactive caller whose plan needs an approval (`agent.require_approval`) is
    /// refused with exit 6 before anything is sent.
    pub async fn commit(
        &mut self,
        client: &Client,
        live: &HashMap<u32, LiveGuest>,
        opts: &CommitOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<CommitReport> {
        self.commit_plan(client, live, opts, progress, true).await
    }

    /// [`Self::commit`]; `gated` false for a plan a person approved (`approve ID`).
    pub(super) async fn commit_plan(
        &mut self,
        client: &Client,
        live: &HashMap<u32, LiveGuest>,
        opts: &CommitOptions,
        progress: &mut dyn FnMut(&str),
        gated: bool,
    ) -> Result<CommitReport> {
        if self.confirm.peek().is_some() {
            return Err(
                Error::usage("a confirmed commit is waiting for `confirm`").hinted(
                    "type `confirm` to keep it, or wait for its rollback before committing more",
                ),
            );
        }
        let actions = self.buffer.actions().to_vec();
        if actions.is_empty() {
            progress("nothing to commit");
            return Ok(CommitReport::default());
        }
        if gated {
            self.check_approval_gate(&actions)?;
        }
        if opts.confirm.is_some()
            && let Some(a) = actions.iter().find(|a| !a.op.undoable_by_snapshot())
        {
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "refusing --confirm: `{}` on {} cannot be undone by a snapshot",
                    a.summary(),
                    a.target.label()
                ),
            )
            .hinted("commit it without --confirm, or `discard` it first; nothing was sent"));
        }
        let exec = self.executor(client);
        let mut plan = None;
        if opts.confirm.is_some() {
            let now = self.clock.now(client).await?;
            let mut seen = BTreeSet::new();
            let guests: Vec<_> = actions
                .iter()
                .filter(|a| a.target.is_guest() && seen.insert(a.target.vmid))
                .map(|a| {
                    let running = live
                        .get(&a.target.vmid)
                        .is_some_and(|l| l.status == "running");
                    (a.target.clone(), running)
                })
                .collect();
            let snapname = snapshot_name(now);
            progress(&format!(
                "taking snapshot {snapname} of {} guest(s) first",
                guests.len()
            ));
            let snap_opts = ExecOptions {
                check_preconditions: false,
                ..opts.exec.clone()
            };
            let snaps = exec
                .run(
                    snapshot_actions(&snapname, &guests),
                    live,
                    &snap_opts,
                    &mut |l: &str| progress(l),
                )
                .await;
            if let Some(bad) = snaps.iter().find(|o| !o.outcome.is_done()) {
                return Err(Error::new(
                    ErrorKind::Task,
                    format!(
                        "could not snapshot {} ({}): nothing was applied, the plan is still pending",
                        bad.action.target.label(),
                        bad.outcome.detail()
                    ),
                ));
            }
            plan = Some(ConfirmPlan {
                deadline: 0,
                snapname,
                guests,
            });
        }
        let mut outcomes = exec
            .run(actions, live, &opts.exec, &mut |l: &str| progress(l))
            .await;
        let units = incomplete_units(&outcomes, live);
        let in_rolled_back = |a: &Action| {
            a.unit
                .as_ref()
                .is_some_and(|u| units.iter().any(|r| &r.unit == u))
        };
        let (dropped, left): (Vec<_>, Vec<_>) = outcomes
            .iter()
            .filter(|o| o.outcome.stays_pending())
            .map(|o| o.action.clone())
            .partition(|a| in_rolled_back(a));
        for o in outcomes.iter_mut() {
            if let Outcome::NotStarted { reason } = &mut o.outcome
                && in_rolled_back(&o.action)
            {
                *reason = "not started; it left the plan with its rolled-back unit".into();
            }
        }
        let kept = left.len();
        self.buffer.settle(left)?;
        if kept > 0 {
            progress(&format!("{kept} change(s) did not start and stay pending"));
        }
        let mut rolled_back = Vec::new();
        let mut rollback_outcomes = Vec::new();
        for u in &units {
            let n = dropped
                .iter()
                .filter(|a| a.unit.as_ref() == Some(&u.unit))
                .count();
            let (r, sent) = self.roll_back_unit(&exec, u, n, opts, progress).await;
            rolled_back.push(r);
            rollback_outcomes.extend(sent);
        }
        self.note_half_applied(&outcomes, live, progress);
        if let (Some(mut plan), Some(secs)) = (plan, opts.confirm) {
            let now = self.clock.now(client).await?;
            plan.deadline = now + i64::try_from(secs).unwrap_or(i64::MAX / 2);
            let announce = format!(
                "!!! confirmed commit: type `confirm` within {} or all {} guest(s) roll back to {}",
                crate::lang::format_duration(secs),
                plan.guests.len(),
                plan.snapname
            );
            self.confirm.open(plan)?;
            progress(&announce);
            if let Some(notify) = &self.timer_notify
                && self.clock.is_local()
            {
                spawn_confirm_timer(exec.clone(), self.confirm.clone(), secs, notify.clone());
            }
        }
        Ok(CommitReport {
            outcomes,
            kept,
            rolled_back,
            rollback_outcomes,
        })
    }

    /// Destroys what an incomplete unit created (see the module docs), reading the cluster
    /// afresh; `dropped` of its actions did not start and left the plan.
    async fn roll_back_unit(
        &self,
        exec: &Executor,
        unit: &UnitRollback,
        dropped: usize,
        opts: &CommitOptions,
        progress: &mut dyn FnMut(&str),
    ) -> (RolledBack, Vec<ItemOutcome>) {
        let mut report = RolledBack {
            unit: unit.unit.clone(),
            dropped,
            ..RolledBack::default()
        };
        progress(&format!(
            "!!! {} did not fully succeed: rolling it back",
            unit.unit
        ));
        if dropped > 0 {
            progress(&format!(
                "{}: {dropped} change(s) of it that did not start left the plan",
                unit.unit
            ));
        }
        if unit.kept_changes > 0 {
            progress(&format!(
                "{}: {} change(s) it made to guests that existed before are not undone",
                unit.unit, unit.kept_changes
            ));
        }
        let mut sent = Vec::new();
        if !unit.created.is_empty() {
            let now = match exec
                .client()
                .get(&endpoints::cluster_resources(Some("vm")))
                .await
            {
                Ok(Json::Array(rows)) => rows,
                Ok(_) => Vec::new(),
                Err(e) => {
                    let why = format!("the cluster could not be read: {e}");
                    report.left = unit.created.iter().map(|c| (c.vmid, why.clone())).collect();
                    return (report, sent);
                }
            };
            // Another's guest on a VMID whose creation failed: not ours, not reported as ours.
            let (actions, strangers) = destroy_actions(unit, &now);
            for (vmid, why) in &strangers {
                progress(&format!("{}: left {vmid} alone: {why}", unit.unit));
            }
            if !actions.is_empty() {
                let names: Vec<String> = actions
                    .iter()
                    .filter(|a| matches!(a.op, Op::Destroy { .. }))
                    .map(|a| a.target.label())
                    .collect();
                progress(&format!(
                    "{}: destroying the guest(s) it created: {}",
                    unit.unit,
                    names.join(", ")
                ));
                let run = ExecOptions {
                    check_preconditions: false,
                    keep_going: true,
                    ..opts.exec.clone()
                };
                sent = exec
                    .run(actions, &HashMap::new(), &run, &mut |l: &str| progress(l))
                    .await;
            }
            for o in sent
                .iter()
                .filter(|o| matches!(o.action.op, Op::Destroy { .. }))
            {
                let vmid = o.action.target.vmid;
                if o.outcome.is_done() {
                    report.destroyed.push(vmid);
                } else {
                    let why = format!("destroy {}: {}", o.outcome.label(), o.outcome.detail());
                    progress(&format!("{}: could not destroy {vmid}: {why}", unit.unit));
                    report.left.push((vmid, why));
                }
            }
        }
        (report, sent)
    }

    /// After Ctrl-C: names the units left half applied (they stay pending, not rolled back).
    fn note_half_applied(
        &self,
        outcomes: &[ItemOutcome],
        live: &HashMap<u32, LiveGuest>,
        progress: &mut dyn FnMut(&str),
    ) {
        if !outcomes
            .iter()
            .any(|o| matches!(o.outcome, Outcome::Interrupted))
        {
            return;
        }
        let mut seen = BTreeSet::new();
        for o in outcomes {
            let Some(unit) = &o.action.unit else { continue };
            let partial = outcomes
                .iter()
                .filter(|x| x.action.unit.as_ref() == Some(unit))
                .any(|x| !x.outcome.is_done());
            if partial && seen.insert(unit.clone()) {
                let made: Vec<String> = outcomes
                    .iter()
                    .filter(|x| x.action.unit.as_ref() == Some(unit) && x.outcome.is_done())
                    .filter_map(|x| x.action.creates())
                    .filter(|t| !live.contains_key(&t.vmid))
                    .map(|t| t.vmid.to_string())
                    .collect();
                progress(&format!(
                    "{unit} is half applied (interrupted, not rolled back); `commit` finishes it"
                ));
                if !made.is_empty() {
                    progress(&format!("{unit}: created so far: {}", made.join(", ")));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "commit_tests.rs"]
mod tests;
