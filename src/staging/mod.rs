//! Staged changes (DESIGN §3): the typed action model every change is expressed in, the pending
//! buffer and its commit journal, the safety policy, the audit log, the one executor through
//! which every mutating API call goes, commit orchestration, and confirmed commits with
//! automatic rollback.
//!
//! Commands plan actions and hand them here; they never send a mutating request themselves
//! (an architecture test enforces it). This module never prints and never reads the terminal:
//! progress goes to callbacks the caller supplies.
//!
//! Files: `action.rs` (Action, Op, ActionKind: risk, undo, request, summary, diff),
//! `buffer.rs` (persistence), `journal.rs` (what a commit sent), `audit.rs`, `policy.rs`
//! (staging policy, protection, quotas, hotplug), `executor.rs` (the executor and typed
//! outcomes), `commit.rs` (commit orchestration), `confirm.rs` (clock and confirmation window),
//! `placement.rs` (pure evacuation and balancing plans), `approval.rs` (approval requests: a
//! person's out-of-band yes to one exact plan).

mod action;
mod approval;
mod audit;
mod buffer;
mod commit;
mod confirm;
mod executor;
mod journal;
pub mod limits;
pub mod placement;
pub mod policy;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio_util::sync::CancellationToken;

pub use action::{
    Action, ActionKind, Checksum, ConfigChange, Op, Params, Precondition, Risk, Target, Undo,
    guest_of_path, is_secret_param, scrub_secrets,
};
pub use approval::{ApprovalRequest, ApprovalStore, local_user, plan_hash, verify, who};
pub use audit::{AuditEntry, AuditLog};
pub(crate) use buffer::write_private;
pub use buffer::{ClusterIdentity, Foreign, PendingBuffer, default_path, state_file};
pub use commit::{CommitOptions, CommitReport};
pub use confirm::{
    Clock, ConfirmPlan, ConfirmSlot, ConfirmWindow, ServerClock, SystemClock, cleanup_actions,
    clock_from_env, peek, rollback_actions, snapshot_actions, snapshot_name, take,
};
pub use executor::{
    ExecOptions, Executor, ItemOutcome, LiveGuest, OUTCOME_COLUMNS, Outcome, ProgressSink, Sent,
    outcome_records, status_skip,
};
pub use journal::{Flight, Journal};

/// Exit code of a batch (`-f` or standard input) that ends with changes still pending.
pub const EXIT_PENDING_LEFT: i32 = crate::error::exit::PENDING_LEFT;

/// A callback for notices from outside a command (the background timer).
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// The staging part of a session: what the command context carries.
pub struct StagingState {
    pub buffer: PendingBuffer,
    /// The read-only rule: checked by [`StagingState::stage`] and by every executor this
    /// state makes.
    pub guard: policy::Guard,
    pub audit: Arc<AuditLog>,
    pub clock: Arc<dyn Clock>,
    pub confirm: ConfirmSlot,
    /// Interactive sessions: where the background timer of a confirm window reports.
    pub timer_notify: Option<Notify>,
    /// Cancelled by the first Ctrl-C of a line whose command stops gracefully (`commit`).
    pub cancel: CancellationToken,
    /// Set by a command that handles Ctrl-C itself; the line runner reads it.
    pub graceful: Arc<AtomicBool>,
    /// Told how far each upload has got (a progress bar on a terminal); without it the
    /// executor's progress lines say each quarter.
    pub byte_progress: Option<crate::api::upload::ByteProgress>,
    /// On a terminal: where tasks that copy data show their progress (a bar each).
    pub progress: Option<ProgressSink>,
    /// This cluster's approval requests (shared with other processes through a file).
    pub approvals: ApprovalStore,
    /// `agent:` of the config: which changes need an approval, and for how long one is valid.
    pub agent: crate::config::Agent,
    /// A person at the interactive shell (not `-c`, `-f`, standard input or an agent): never
    /// needs an approval.
    pub interactive: bool,
    /// The local user (`USER`) recorded with approvals next to the PVE user; `None` in
    /// sessions that are not a person's or an agent's process (tests).
    pub local_user: Option<String>,
}

impl StagingState {
    /// In memory only: no file for the buffer, no audit log, the local clock.
    pub fn in_memory(cluster: &str) -> StagingState {
        StagingState {
            buffer: PendingBuffer::in_memory(cluster),
            guard: policy::Guard::default(),
            audit: Arc::new(AuditLog::new(None, cluster, "")),
            clock: Arc::new(SystemClock),
            confirm: Arc::new(ConfirmWindow::default()),
            timer_notify: None,
            cancel: CancellationToken::new(),
            graceful: Arc::new(AtomicBool::new(false)),
            byte_progress: crate::render::transfer::terminal_bar(),
            progress: None,
            approvals: ApprovalStore::in_memory(),
            agent: crate::config::Agent::default(),
            interactive: false,
            local_user: None,
        }
    }
}

/// Rolls back a confirm window's guests; returns the outcomes. Used by the session check, the
/// end of a batch and the background timer.
pub async fn roll_back<F: FnMut(&str)>(
    exec: &Executor,
    plan: &ConfirmPlan,
    progress: &mut F,
) -> Vec<ItemOutcome> {
    let opts = ExecOptions {
        check_preconditions: false,
        keep_going: true,
        ..ExecOptions::default()
    };
    exec.run(rollback_actions(plan), &Default::default(), &opts, progress)
        .await
}

/// The loud notice for a rollback that fired.
pub fn rollback_banner(plan: &ConfirmPlan, why: &str) -> String {
    let names: Vec<String> = plan.guests.iter().map(|(t, _)| t.label()).collect();
    format!(
        "!!! ROLLING BACK: {why}; returning {} guest(s) to snapshot {}: {}",
        plan.guests.len(),
        plan.snapname,
        names.join(", ")
    )
}

/// In an interactive session with the local clock: rolls the window back when its deadline
/// passes, even while the shell waits for input.
pub fn spawn_confirm_timer(exec: Executor, slot: ConfirmSlot, wait_secs: u64, notify: Notify) {
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(wait_secs)).await;
        let Some(plan) = take(&slot) else {
            return;
        };
        notify(&rollback_banner(
            &plan,
            "the confirm window expired without `confirm`",
        ));
        let mut say = |line: &str| notify(line);
        let outcomes = roll_back(&exec, &plan, &mut say).await;
        let failed = outcomes.iter().filter(|o| !o.outcome.is_done()).count();
        if failed == 0 {
            notify("!!! rollback finished: every guest is back to its snapshot");
        } else {
            notify(&format!(
                "!!! rollback: {failed} guest(s) could not be rolled back; check them now"
            ));
        }
    });
}
