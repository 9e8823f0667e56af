//! The one executor: every mutating API call pvesh+ makes leaves the process here, whoever
//! asked for it (a command that runs at once, `commit`, a confirm window's snapshots and
//! rollbacks, a raw write, every step of the creation wizards and their rollbacks).
//!
//! [`Executor::send`] sends one [`Action`]'s request: it is journaled before it is sent (when the
//! action comes from the pending buffer) and audited after the answer, with its UPID.
//! [`Executor::follow`] follows a task to its end and audits that too. [`Executor::run`] runs a
//! list of actions with bounded parallelism (overall and per node), re-checking preconditions,
//! and returns one typed [`Outcome`] per action.
//!
//! Nothing is sent for an action on a read-only guest: [`Executor::send`] refuses it, and
//! [`Executor::run`] refuses the whole list when one of its actions is (see
//! [`super::policy::Guard`]).
//!
//! Actions on the same guest run one after the other in plan order, and a later one is skipped
//! when an earlier one on that guest did not happen. Without `keep_going` the first failure stops
//! new launches; cancelling the token (Ctrl-C) does the same. Running tasks are always followed
//! to their end, so the outcome table says what really happened. This module never prints: it
//! hands progress lines to a callback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::action::{Action, ActionKind, Op};
use super::audit::AuditLog;
use super::journal::{Flight, Journal};
use super::policy::Guard;
use crate::api::upload::{ByteProgress, UploadFile};
use crate::api::{
    ApiError, Client, LogProgress, TaskOutcome, Upid, WaitOptions, endpoints, log_length,
    log_progress,
};
use crate::lang::{Record, Value};

/// How a list of actions runs.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Tasks running at once, overall.
    pub parallel: usize,
    /// Tasks running at once on one node.
    pub per_node: usize,
    /// Go on launching after a failure.
    pub keep_going: bool,
    /// Re-check each action's precondition against the cluster before sending it.
    pub check_preconditions: bool,
    /// Cancelled: launch nothing more (running tasks are still followed).
    pub cancel: CancellationToken,
    pub wait: WaitOptions,
}

impl Default for ExecOptions {
    fn default() -> Self {
        // 4 per node, 32 overall: see `super::limits` for the rule and its source.
        ExecOptions {
            parallel: super::limits::Limits::DEFAULT.overall,
            per_node: super::limits::Limits::DEFAULT.per_node,
            keep_going: false,
            check_preconditions: true,
            cancel: CancellationToken::new(),
            wait: WaitOptions {
                poll_min: Duration::from_millis(10),
                poll_max: Duration::from_millis(250),
                log: crate::api::TaskLog::Skip,
                times: Some(crate::api::TaskTimes::shared()),
                ..WaitOptions::default()
            },
        }
    }
}

/// What became of one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It happened; `detail` is the task's exit status or a note (`pending until reboot: ...`).
    Done { detail: String },
    /// It was not sent because the guest is not as planned (moved, changed, gone, already in
    /// that state), or an earlier change to the same guest did not happen.
    Skipped { reason: String },
    /// The server refused it or its task failed.
    Failed { error: String },
    /// Not started because an earlier action failed (without `--keep-going`): still pending.
    NotStarted { reason: String },
    /// Not started because the run was interrupted (Ctrl-C): still pending.
    Interrupted,
    /// Not sent: it, or another action of the same run, would change a read-only guest
    /// (`reason` names the rule). Still pending.
    Refused { reason: String },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Failed { .. } => "failed",
            Outcome::NotStarted { .. } => "not run",
            Outcome::Interrupted => "interrupted",
            Outcome::Refused { .. } => "refused",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Outcome::Done { detail } => detail,
            Outcome::Skipped { reason }
            | Outcome::NotStarted { reason }
            | Outcome::Refused { reason } => reason,
            Outcome::Failed { error } => error,
            Outcome::Interrupted => "interrupted before it started",
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done { .. })
    }

    /// True when the action never started and so stays in the plan.
    pub fn stays_pending(&self) -> bool {
        matches!(
            self,
            Outcome::NotStarted { .. } | Outcome::Interrupted | Outcome::Refused { .. }
        )
    }
}

#[derive(Debug, Clone)]
pub struct ItemOutcome {
    pub action: Action,
    pub outcome: Outcome,
    pub upid: Option<String>,
    pub seconds: f64,
}

/// What the cluster says about a guest now (from one `GET /cluster/resources`).
#[derive(Debug, Clone)]
pub struct LiveGuest {
    pub node: String,
    pub status: String,
}

/// The outcomes as records for the outcome table.
pub fn outcome_records(outcomes: &[ItemOutcome]) -> Value {
    Value::List(
        outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut r = Record::new();
                r.insert("n", Value::Int(i as i64 + 1));
                r.insert("vmid", o.action.target.vmid_value());
                r.insert("name", Value::String(o.action.target.name.clone()));
                r.insert("node", Value::String(o.action.target.node.clone()));
                r.insert("action", Value::String(o.action.summary()));
                r.insert("outcome", Value::String(o.outcome.label().to_string()));
                r.insert("detail", Value::String(o.outcome.detail().to_string()));
                r.insert("time", Value::Duration(o.seconds.round() as u64));
                r.insert("upid", o.upid.clone().map_or(Value::Null, Value::String));
                Value::Record(r)
            })
            .collect(),
    )
}

/// The columns of the outcome table.
pub const OUTCOME_COLUMNS: &[&str] = &["n", "vmid", "name", "node", "action", "outcome", "detail"];

/// A skip found before sending anything: the guest changed since the action was planned.
fn precheck_live(action: &Action, live: Option<&LiveGuest>) -> Option<String> {
    if !action.target.is_guest() {
        return None;
    }
    // A creation's guest does not exist yet.
    if matches!(action.op, Op::Create { .. }) {
        return None;
    }
    let Some(live) = live else {
        return Some("the guest no longer exists".into());
    };
    if live.node != action.precondition.node {
        return Some(format!(
            "the guest moved from {} to {} since this was staged",
            action.precondition.node, live.node
        ));
    }
    status_skip(action.kind(), &live.status)
}

/// Why a lifecycle action makes no sense for a guest in `status` (starting a running guest,
/// stopping a stopped one), or `None` when it does.
pub fn status_skip(kind: ActionKind, status: &str) -> Option<String> {
    let running = status == "running";
    match kind {
        ActionKind::Start if running => Some("already running".into()),
        ActionKind::Stop
        | ActionKind::Shutdown
        | ActionKind::Reboot
        | ActionKind::Reset
        | ActionKind::Suspend
            if !running =>
        {
            Some(format!("not running (status {status})"))
        }
        _ => None,
    }
}

/// The answer to a mutating request.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The `data` of the answer (a UPID string, `null`, what a raw write returned, or a
    /// console's `{port, ticket, user, upid}`: the caller keeps the ticket to itself).
    pub data: Json,
    /// The task it started, if it started one.
    pub upid: Option<Upid>,
}

/// The user-facing text of an API error.
fn error_text(e: &ApiError) -> String {
    match e {
        ApiError::TaskFailed { exitstatus, .. } => exitstatus.clone(),
        other => crate::error::Error::from(other.clone()).message,
    }
}

/// Where the progress of data-copying tasks goes as it comes (a bar per task on a terminal,
/// see `render::progress::task_bars`): the task's key (`[2/5]`), its label, and the progress
/// its log reported, or `None` when the task ended. Without one, the progress lines go to the
/// `progress` callback of [`Executor::run`] as text.
pub type ProgressSink = Arc<dyn Fn(&str, &str, Option<LogProgress>) + Send + Sync>;

/// The one way mutating requests are sent. Cheap to clone.
#[derive(Clone)]
pub struct Executor {
    client: Client,
    audit: Arc<AuditLog>,
    journal: Option<Arc<Journal>>,
    /// Refuses actions on read-only guests before anything is sent.
    guard: Guard,
    /// Where audit-log write failures are reported (once per failure).
    warn: Option<mpsc::UnboundedSender<String>>,
    /// Told the bytes an upload has sent (a progress bar); without it the run's progress
    /// lines say each quarter.
    bytes: Option<ByteProgress>,
    bars: Option<ProgressSink>,
}

impl Executor {
    /// An executor without read-only rules (tests); sessions get theirs from
    /// [`super::StagingState::executor`].
    pub fn new(client: Client, audit: Arc<AuditLog>) -> Executor {
        Executor {
            client,
            audit,
            journal: None,
            guard: Guard::default(),
            warn: None,
            bytes: None,
            bars: None,
        }
    }

    /// Tells `bytes` how far each upload it sends has got.
    pub fn with_byte_progress(mut self, bytes: ByteProgress) -> Executor {
        self.bytes = Some(bytes);
        self
    }

    /// Refuses, before sending, every action on a guest `guard` says is read-only.
    pub fn with_guard(mut self, guard: Guard) -> Executor {
        self.guard = guard;
        self
    }

    /// The refusal of the first action of `actions` that would change a read-only guest.
    pub fn admit(&self, actions: &[Action]) -> crate::error::Result<()> {
        self.guard.admit(actions)
    }

    /// Sends the progress of data-copying tasks to `sink` (see [`ProgressSink`]).
    pub fn with_progress(mut self, sink: Option<ProgressSink>) -> Executor {
        self.bars = sink;
        self
    }

    /// Journals the actions it sends (those with an id) in `journal`.
    pub fn with_journal(mut self, journal: Arc<Journal>) -> Executor {
        self.journal = Some(journal);
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    fn audit_line(&self, event: &'static str, action: &Action, upid: Option<&str>, outcome: &str) {
        let entry = self.audit.entry(event, action, upid, outcome);
        if let Err(e) = self.audit.write(&entry)
            && let Some(w) = &self.warn
        {
            let _ = w.send(format!("warning: {e}"));
        }
    }

    fn journal(&self, action: &Action) -> Option<&Journal> {
        self.journal.as_deref().filter(|_| action.id != 0)
    }

    /// Sends `action`'s request: journaled as sending before, audited after (with its UPID when
    /// it started a task; a task it started is not followed here).
    pub async fn send(&self, action: &Action) -> Result<Sent, ApiError> {
        if let Err(e) = self.guard.check(action) {
            return Err(ApiError::Refused {
                message: e.message,
                hints: e.hints,
            });
        }
        let req = action.request();
        if let Some(j) = self.journal(action) {
            j.sending(action.id);
        }
        let answer = match &action.op {
            Op::Upload {
                source, filename, ..
            } => {
                let file = UploadFile {
                    path: source.clone(),
                    name: filename.clone(),
                };
                let bytes = self.bytes.clone().unwrap_or_else(ByteProgress::none);
                self.client
                    .upload(&req, &file, &bytes)
                    .await
                    .map(|r| r.data)
            }
            _ => self.client.get(&req).await,
        };
        match answer {
            Err(e) => {
                let text = action.scrub(&error_text(&e));
                self.audit_line("call", action, None, &format!("error: {text}"));
                if let Some(j) = self.journal(action) {
                    j.done(action.id);
                }
                Err(e)
            }
            Ok(data) => {
                // A UPID string, or an object carrying one (`termproxy`: `{port, ticket, user,
                // upid}`, whose other fields are never logged).
                let upid = data
                    .as_str()
                    .or_else(|| data.get("upid").and_then(Json::as_str))
                    .and_then(|s| s.parse::<Upid>().ok());
                let text = upid.as_ref().map(Upid::to_string);
                let outcome = if upid.is_some() { "submitted" } else { "ok" };
                if let Some(j) = self.journal(action) {
                    match &text {
                        Some(u) => j.sent(action.id, u),
                        None => j.done(action.id),
                    }
                }
                self.audit_line("call", action, text.as_deref(), outcome);
                Ok(Sent { data, upid })
            }
        }
    }

    /// Follows the task `action` started to its end; audits how it ended.
    pub async fn follow(
        &self,
        action: &Action,
        upid: &Upid,
        wait: &WaitOptions,
        on_log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<TaskOutcome, ApiError> {
        let text = upid.to_string();
        let waited = self.client.wait_task(upid, wait, on_log).await;
        match &waited {
            Ok(_) => self.audit_line("task", action, Some(&text), "ok"),
            // A wait that was cancelled or timed out says nothing about the task.
            Err(ApiError::Cancelled | ApiError::Timeout { .. }) => return waited,
            Err(e) => {
                let t = action.scrub(&error_text(e));
                self.audit_line("task", action, Some(&text), &format!("error: {t}"));
            }
        }
        if let Some(j) = self.journal(action) {
            j.done(action.id);
        }
        waited
    }

    /// [`Executor::send`] then [`Executor::follow`]: `None` when no task was started.
    pub async fn call(
        &self,
        action: &Action,
        wait: &WaitOptions,
        on_log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Option<TaskOutcome>, ApiError> {
        let sent = self.send(action).await?;
        match sent.upid {
            Some(upid) => self.follow(action, &upid, wait, on_log).await.map(Some),
            None => Ok(None),
        }
    }

    /// Runs `actions` and returns their outcomes in plan order. `live` is the cluster's view of
    /// each guest (for the precondition check); `progress` gets a line per task start and end.
    pub async fn run<F: FnMut(&str)>(
        &self,
        actions: Vec<Action>,
        live: &HashMap<u32, LiveGuest>,
        opts: &ExecOptions,
        progress: &mut F,
    ) -> Vec<ItemOutcome> {
        let total = actions.len();
        // All or nothing: one action on a read-only guest refuses the whole list.
        if let Err(e) = self.guard.admit(&actions) {
            return actions
                .into_iter()
                .map(|action| {
                    let reason = match self.guard.check(&action) {
                        Err(mine) => mine.message,
                        Ok(()) => format!("not sent: {}", e.message),
                    };
                    ItemOutcome {
                        action,
                        outcome: Outcome::Refused { reason },
                        upid: None,
                        seconds: 0.0,
                    }
                })
                .collect();
        }
        let parallel = opts.parallel.max(1);
        let per_node = opts.per_node.max(1);
        let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; total];
        let mut started = vec![false; total];
        let mut node_load: HashMap<String, usize> = HashMap::new();
        // For each action, the ones it waits for: the one before it on the same guest (they
        // run in plan order) and, for a clone, the one before it on the VMID it makes (the
        // destroy of a rebuild). Later actions on that VMID wait for the clone.
        let mut last_on: HashMap<u32, usize> = HashMap::new();
        let previous: Vec<Vec<usize>> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut before: Vec<usize> = Vec::new();
                if a.target.is_guest() {
                    before.extend(last_on.insert(a.target.vmid, i));
                }
                if let Op::Clone { newid, .. } = &a.op {
                    before.extend(last_on.insert(*newid, i));
                }
                before
            })
            .collect();
        let mut set = tokio::task::JoinSet::new();
        let mut ids: HashMap<tokio::task::Id, (usize, Instant)> = HashMap::new();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let mut me = self.clone();
        me.warn = Some(tx.clone());
        let mut halted: Option<Outcome> = None;
        // Launch order: the next action not yet started, round the nodes.
        let mut next = 0usize;
        loop {
            if opts.cancel.is_cancelled() && halted.is_none() {
                halted = Some(Outcome::Interrupted);
                progress("interrupted: no new actions are started; waiting for the running ones");
            }
            if halted.is_none() {
                let mut i = next;
                while i < total && set.len() < parallel {
                    if started[i] {
                        i += 1;
                        continue;
                    }
                    let a = &actions[i];
                    // The actions it waits for must have finished, and well.
                    let waits = previous[i].iter().map(|&j| &outcomes[j]);
                    if waits.clone().any(Option::is_none) {
                        i += 1;
                        continue;
                    }
                    if waits.flatten().any(|o| !o.outcome.is_done()) {
                        started[i] = true;
                        outcomes[i] = Some(ItemOutcome {
                            action: a.clone(),
                            outcome: Outcome::Skipped {
                                reason: "an earlier change to this guest did not happen".into(),
                            },
                            upid: None,
                            seconds: 0.0,
                        });
                        i += 1;
                        continue;
                    }
                    let load = node_load.entry(a.target.node.clone()).or_default();
                    if *load >= per_node {
                        i += 1;
                        continue;
                    }
                    *load += 1;
                    started[i] = true;
                    // After an earlier action of this plan on the same guest, the snapshot of
                    // the cluster taken at the start (status, digest) is outdated by our own
                    // change: the check was made for the first action of the chain.
                    let chained = !previous[i].is_empty();
                    let mut action = a.clone();
                    if chained {
                        action.precondition.digest = None;
                    }
                    let job = Job {
                        exec: me.clone(),
                        live: live.get(&action.target.vmid).cloned(),
                        action,
                        check: opts.check_preconditions && !chained,
                        wait: opts.wait.clone(),
                        progress: tx.clone(),
                        tag: format!("[{}/{total}]", i + 1),
                    };
                    let handle = set.spawn(job.run());
                    ids.insert(handle.id(), (i, Instant::now()));
                    i += 1;
                }
                while next < total && started[next] {
                    next += 1;
                }
            }
            // The launch loop starts everything it can; with nothing running, all has started.
            if set.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some(line) = rx.recv() => progress(&line),
                Some(joined) = set.join_next_with_id() => {
                    let (id, result) = match joined {
                        Ok((id, r)) => (id, r),
                        Err(e) => (e.id(), JobResult {
                            outcome: Outcome::Failed { error: format!("internal error: {e}") },
                            upid: None,
                        }),
                    };
                    let Some((i, since)) = ids.remove(&id) else { continue };
                    let a = &actions[i];
                    if let Some(load) = node_load.get_mut(&a.target.node) {
                        *load = load.saturating_sub(1);
                    }
                    while let Ok(line) = rx.try_recv() {
                        progress(&line);
                    }
                    progress(&format!(
                        "[{}/{total}] {}: {} {} — {}",
                        i + 1,
                        a.target.label(),
                        a.summary(),
                        result.outcome.label(),
                        result.outcome.detail()
                    ));
                    if matches!(result.outcome, Outcome::Failed { .. })
                        && !opts.keep_going
                        && halted.is_none()
                    {
                        halted = Some(Outcome::NotStarted {
                            reason: "not started: an earlier action failed (use --keep-going to go on)".into(),
                        });
                    }
                    outcomes[i] = Some(ItemOutcome {
                        action: a.clone(),
                        outcome: result.outcome,
                        upid: result.upid,
                        seconds: since.elapsed().as_secs_f64(),
                    });
                }
                () = opts.cancel.cancelled(), if halted.is_none() => {}
            }
        }
        while let Ok(line) = rx.try_recv() {
            progress(&line);
        }
        let why = halted.unwrap_or(Outcome::NotStarted {
            reason: "not started".into(),
        });
        outcomes
            .into_iter()
            .zip(actions)
            .map(|(o, a)| {
                o.unwrap_or(ItemOutcome {
                    action: a,
                    outcome: why.clone(),
                    upid: None,
                    seconds: 0.0,
                })
            })
            .collect()
    }
}

/// Progress lines at each quarter of an upload: `[1/1] pve1: sent 50% (2.0 MiB of 4.0 MiB)`.
fn quarter_lines(progress: mpsc::UnboundedSender<String>, tag: String) -> ByteProgress {
    let said = std::sync::atomic::AtomicU64::new(0);
    ByteProgress::new(move |sent, total| {
        let quarter = (sent.saturating_mul(4)).checked_div(total).unwrap_or(4);
        if quarter > said.load(std::sync::atomic::Ordering::Relaxed) {
            said.store(quarter, std::sync::atomic::Ordering::Relaxed);
            let _ = progress.send(format!(
                "{tag}: sent {}% ({} of {})",
                quarter * 25,
                crate::lang::format_size(sent),
                crate::lang::format_size(total)
            ));
        }
    })
}

struct Job {
    exec: Executor,
    action: Action,
    live: Option<LiveGuest>,
    check: bool,
    wait: WaitOptions,
    progress: mpsc::UnboundedSender<String>,
    tag: String,
}

struct JobResult {
    outcome: Outcome,
    upid: Option<String>,
}

impl JobResult {
    fn skipped(reason: impl Into<String>) -> JobResult {
        JobResult {
            outcome: Outcome::Skipped {
                reason: reason.into(),
            },
            upid: None,
        }
    }

    fn failed(error: String, upid: Option<String>) -> JobResult {
        JobResult {
            outcome: Outcome::Failed { error },
            upid,
        }
    }

    fn done(detail: impl Into<String>, upid: Option<String>) -> JobResult {
        JobResult {
            outcome: Outcome::Done {
                detail: detail.into(),
            },
            upid,
        }
    }
}

impl Job {
    async fn run(self) -> JobResult {
        let a = &self.action;
        // An action the last session sent before it died is followed, never sent again.
        match self.exec.journal(a).and_then(|j| j.flight(a.id)) {
            Some(Flight::Sent(upid)) => return self.follow_restored(&upid).await,
            Some(Flight::Unknown) => {
                if let Some(j) = self.exec.journal(a) {
                    j.done(a.id);
                }
                return JobResult::skipped(
                    "it was being sent when the last session stopped, and may have reached the \
                     server: check the guest, then stage it again if it is still needed",
                );
            }
            None => {}
        }
        if self.check {
            if let Some(why) = precheck_live(a, self.live.as_ref()) {
                return JobResult::skipped(why);
            }
            if let Some(staged) = &a.precondition.digest {
                let cfg =
                    endpoints::guest_config(a.target.guest_kind, &a.target.node, a.target.vmid);
                match self.exec.client.get(&cfg).await {
                    Ok(c) => {
                        let now = c.get("digest").and_then(|d| d.as_str()).unwrap_or_default();
                        if now != staged {
                            return JobResult::skipped(
                                "its config changed since this was staged (digest differs); \
                                 check it and stage the change again",
                            );
                        }
                    }
                    Err(e) => return JobResult::failed(a.scrub(&error_text(&e)), None),
                }
            }
        }
        let mut exec = self.exec.clone();
        if matches!(a.op, Op::Upload { .. }) && exec.bytes.is_none() {
            exec.bytes = Some(quarter_lines(
                self.progress.clone(),
                format!("{} {}", self.tag, a.target.label()),
            ));
        }
        let sent = match exec.send(a).await {
            Err(e) => return JobResult::failed(a.scrub(&error_text(&e)), None),
            Ok(sent) => sent,
        };
        let Some(upid) = sent.upid else {
            return self.after_config(JobResult::done("OK", None)).await;
        };
        // The UPID goes on a line of its own, tagged like the others (parallel items
        // interleave): with it the line would pass 80 columns for most actions.
        let _ = self.progress.send(format!(
            "{} {}: {} running",
            self.tag,
            a.target.label(),
            a.summary()
        ));
        let _ = self.progress.send(format!("{} task {upid}", self.tag));
        self.finish(&upid).await
    }

    async fn finish(&self, upid: &Upid) -> JobResult {
        let a = &self.action;
        let text = upid.to_string();
        // Long copies (migrate, backup, restore, clone, disk move) show their progress lines
        // (`transferred 8.0 GiB of 32.0 GiB (25.00%)`) from the task log as they come.
        let copies = a.kind().copies_data();
        let mut wait = self.wait.clone();
        if copies {
            wait.log = crate::api::TaskLog::Stream;
        }
        let (tag, label) = (self.tag.clone(), a.target.label());
        let progress = self.progress.clone();
        let bars = self.exec.bars.clone();
        let bar_label = format!("{tag} {label}: {}", a.summary());
        let verb = a.kind().as_str();
        let mut length = None;
        let mut on_log = move |line: &str| {
            if !copies {
                return;
            }
            if let Some(n) = log_length(line) {
                length = Some(n);
            }
            match (&bars, log_progress(line).map(|p| p.of_total(length))) {
                (Some(sink), Some(p)) => sink(&tag, &bar_label, Some(p)),
                // Off a terminal: one line per progress report, in one wording whatever the
                // task's own (`[1/2] web01 (101): migrate 25% (8.0 GiB of 32.0 GiB)`).
                (None, Some(p)) => {
                    let _ = progress.send(format!("{tag} {label}: {verb} {}", p.text()));
                }
                _ => {}
            }
        };
        let followed = self.exec.follow(a, upid, &wait, &mut on_log).await;
        if let (Some(sink), true) = (&self.exec.bars, copies) {
            sink(&self.tag, "", None);
        }
        match followed {
            Ok(done) => {
                let r = JobResult::done(done.exitstatus, Some(text));
                self.after_config(r).await
            }
            Err(e) => JobResult::failed(a.scrub(&error_text(&e)), Some(text)),
        }
    }

    async fn follow_restored(&self, upid: &str) -> JobResult {
        let a = &self.action;
        let Ok(upid) = upid.parse::<Upid>() else {
            return JobResult::failed(format!("the journal holds a bad task id: {upid}"), None);
        };
        let _ = self.progress.send(format!(
            "{} {}: {} was in flight when the last session stopped; following {upid}",
            self.tag,
            a.target.label(),
            a.summary()
        ));
        self.finish(&upid).await
    }

    /// After a QEMU config change, reads `GET .../pending` and says which keys wait for a reboot.
    async fn after_config(&self, mut r: JobResult) -> JobResult {
        let a = &self.action;
        let Op::Set(change) = &a.op else {
            return r;
        };
        if a.target.guest_kind != crate::api::GuestKind::Qemu {
            return r;
        }
        let req = endpoints::qemu_pending(&a.target.node, a.target.vmid);
        if let Ok(Json::Array(items)) = self.exec.client.get(&req).await {
            let waiting: Vec<String> = items
                .iter()
                .filter(|i| i.get("pending").is_some() || i.get("delete").is_some())
                .filter_map(|i| i.get("key").and_then(|k| k.as_str()).map(str::to_string))
                .filter(|k| change.changes.contains_key(k))
                .collect();
            if !waiting.is_empty()
                && let Outcome::Done { detail } = &mut r.outcome
            {
                *detail = format!("{detail}; pending until reboot: {}", waiting.join(", "));
            }
        }
        r
    }
}

#[cfg(test)]
#[path = "executor_tests.rs"]
pub(super) mod tests;
