//! Committing the pending plan: the orchestration behind `commit`.
//!
//! It refuses what cannot run (an open confirm window; `--confirm` with an action no snapshot
//! can undo), takes the safety snapshots of a confirmed commit, runs the plan through the
//! [`Executor`] with the buffer's journal, settles the buffer (the actions that did not start
//! stay pending, in order, with their ids) and opens the confirm window. Everything it decides
//! reads typed [`Outcome`]s, never message text. It never prints: lines go to `progress`.

use std::collections::{BTreeSet, HashMap};

use super::action::Action;
use super::confirm::{ConfirmPlan, snapshot_actions, snapshot_name};
use super::executor::{ExecOptions, Executor, ItemOutcome, LiveGuest, Outcome};
use super::{StagingState, spawn_confirm_timer};
use crate::api::Client;
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
}

impl CommitReport {
    /// Outcomes that are not `done`.
    pub fn bad(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !o.outcome.is_done())
            .count()
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
        Some(Error::new(
            ErrorKind::Partial,
            format!(
                "{bad} of {} change(s) did not succeed: {} failed, {} skipped, {} not run (see the table above)",
                self.outcomes.len(),
                count(|o| matches!(o, Outcome::Failed { .. })),
                count(|o| matches!(o, Outcome::Skipped { .. })),
                count(Outcome::stays_pending),
            ),
        ))
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
        let outcomes = exec
            .run(actions, live, &opts.exec, &mut |l: &str| progress(l))
            .await;
        let left: Vec<_> = outcomes
            .iter()
            .filter(|o| o.outcome.stays_pending())
            .map(|o| o.action.clone())
            .collect();
        let kept = left.len();
        self.buffer.settle(left)?;
        if kept > 0 {
            progress(&format!("{kept} change(s) did not start and stay pending"));
        }
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
        Ok(CommitReport { outcomes, kept })
    }
}
