//! The executor every change goes through, whether it runs at once or from a commit: re-check
//! each action's precondition, send its request with bounded parallelism (overall and per node),
//! follow its UPID to the end, write the audit log, and return one outcome per action.
//!
//! Actions on the same guest run one after the other in plan order, and a later one is not run
//! when an earlier one on that guest did not happen. Without `keep_going` the first failure stops
//! new launches; cancelling the token (Ctrl-C) does the same. Running tasks are always followed
//! to their end, so the outcome table says what really happened. This module never prints: it
//! hands progress lines to a callback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::action::{Action, ActionKind};
use super::audit::AuditLog;
use crate::api::{ApiError, Client, WaitOptions, endpoints};
use crate::lang::{Record, Value};

/// How a commit (or an immediate action) runs.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Done,
    Failed,
    Skipped,
    NotRun,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotRun => "not run",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ItemOutcome {
    pub action: Action,
    pub status: Status,
    pub detail: String,
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
                r.insert("vmid", Value::Int(i64::from(o.action.target.vmid)));
                r.insert("name", Value::String(o.action.target.name.clone()));
                r.insert("node", Value::String(o.action.target.node.clone()));
                r.insert("action", Value::String(o.action.summary()));
                r.insert("outcome", Value::String(o.status.as_str().to_string()));
                r.insert("detail", Value::String(o.detail.clone()));
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
    let Some(live) = live else {
        return Some("the guest no longer exists".into());
    };
    if live.node != action.precondition.node {
        return Some(format!(
            "the guest moved from {} to {} since this was staged",
            action.precondition.node, live.node
        ));
    }
    status_skip(action.kind, &live.status)
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

struct Job {
    client: Client,
    audit: Arc<AuditLog>,
    action: Action,
    live: Option<LiveGuest>,
    check: bool,
    wait: WaitOptions,
    progress: mpsc::UnboundedSender<String>,
    tag: String,
}

struct JobResult {
    status: Status,
    detail: String,
    upid: Option<String>,
}

impl JobResult {
    fn new(status: Status, detail: impl Into<String>, upid: Option<String>) -> JobResult {
        JobResult {
            status,
            detail: detail.into(),
            upid,
        }
    }
}

fn error_text(e: &ApiError) -> String {
    match e {
        ApiError::TaskFailed { exitstatus, .. } => exitstatus.clone(),
        other => crate::error::Error::from(other.clone()).message,
    }
}

impl Job {
    fn audit(&self, event: &'static str, upid: Option<&str>, outcome: &str) {
        let entry = self.audit.entry(event, &self.action, upid, outcome);
        if let Err(e) = self.audit.write(&entry) {
            let _ = self.progress.send(format!("warning: {e}"));
        }
    }

    async fn run(self) -> JobResult {
        let a = &self.action;
        if self.check {
            if let Some(why) = precheck_live(a, self.live.as_ref()) {
                return JobResult::new(Status::Skipped, why, None);
            }
            if let Some(staged) = &a.precondition.digest {
                let cfg =
                    endpoints::guest_config(a.target.guest_kind, &a.target.node, a.target.vmid);
                match self.client.get(&cfg).await {
                    Ok(c) => {
                        let now = c.get("digest").and_then(|d| d.as_str()).unwrap_or_default();
                        if now != staged {
                            return JobResult::new(
                                Status::Skipped,
                                "its config changed since this was staged (digest differs); \
                                 check it and stage the change again",
                                None,
                            );
                        }
                    }
                    Err(e) => {
                        return JobResult::new(Status::Failed, a.scrub(&error_text(&e)), None);
                    }
                }
            }
        }
        let req = a.request();
        let upid = match self.client.start_task(&req).await {
            Err(e) => {
                let text = a.scrub(&error_text(&e));
                self.audit("call", None, &format!("error: {text}"));
                return JobResult::new(Status::Failed, text, None);
            }
            Ok(None) => {
                self.audit("call", None, "ok");
                return self
                    .after_config(JobResult::new(Status::Done, "OK", None))
                    .await;
            }
            Ok(Some(upid)) => upid,
        };
        let upid_text = upid.to_string();
        self.audit("call", Some(&upid_text), "submitted");
        let _ = self.progress.send(format!(
            "{} {}: {} running ({upid_text})",
            self.tag,
            a.target.label(),
            a.summary()
        ));
        let waited = self.client.wait_task(&upid, &self.wait, &mut |_| {}).await;
        match waited {
            Ok(done) => {
                self.audit("task", Some(&upid_text), "ok");
                let r = JobResult::new(Status::Done, done.exitstatus, Some(upid_text));
                self.after_config(r).await
            }
            Err(e) => {
                let text = a.scrub(&error_text(&e));
                self.audit("task", Some(&upid_text), &format!("error: {text}"));
                JobResult::new(Status::Failed, text, Some(upid_text))
            }
        }
    }

    /// After a QEMU config change, reads `GET .../pending` and says which keys wait for a reboot.
    async fn after_config(&self, mut r: JobResult) -> JobResult {
        let a = &self.action;
        if !matches!(a.kind, ActionKind::Set) || a.target.guest_kind != crate::api::GuestKind::Qemu
        {
            return r;
        }
        let req = endpoints::qemu_pending(&a.target.node, a.target.vmid);
        if let Ok(serde_json::Value::Array(items)) = self.client.get(&req).await {
            let waiting: Vec<String> = items
                .iter()
                .filter(|i| i.get("pending").is_some() || i.get("delete").is_some())
                .filter_map(|i| i.get("key").and_then(|k| k.as_str()).map(str::to_string))
                .filter(|k| a.params.contains_key(k))
                .collect();
            if !waiting.is_empty() {
                r.detail = format!("{}; pending until reboot: {}", r.detail, waiting.join(", "));
            }
        }
        r
    }
}

/// Runs `actions` and returns their outcomes in plan order. `live` is the cluster's view of
/// each guest (for the precondition check); `progress` gets a line per task start and end.
pub async fn execute<F: FnMut(&str)>(
    client: &Client,
    audit: &Arc<AuditLog>,
    actions: Vec<Action>,
    live: &HashMap<u32, LiveGuest>,
    opts: &ExecOptions,
    progress: &mut F,
) -> Vec<ItemOutcome> {
    let total = actions.len();
    let parallel = opts.parallel.max(1);
    let per_node = opts.per_node.max(1);
    let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; total];
    let mut started = vec![false; total];
    let mut node_load: HashMap<String, usize> = HashMap::new();
    // For each action, the one before it on the same guest: they run in plan order.
    let mut last_on: HashMap<u32, usize> = HashMap::new();
    let previous: Vec<Option<usize>> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| last_on.insert(a.target.vmid, i))
        .collect();
    let mut set = tokio::task::JoinSet::new();
    let mut ids: HashMap<tokio::task::Id, (usize, Instant)> = HashMap::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let mut halted: Option<&'static str> = None;
    loop {
        if opts.cancel.is_cancelled() && halted.is_none() {
            halted = Some("interrupted before it started");
            progress("interrupted: no new actions are started; waiting for the running ones");
        }
        if halted.is_none() {
            for i in 0..total {
                if started[i] || set.len() >= parallel {
                    continue;
                }
                let a = &actions[i];
                // The previous action on the same guest must have finished, and well.
                if let Some(j) = previous[i] {
                    match &outcomes[j] {
                        None => continue,
                        Some(o) if o.status != Status::Done => {
                            started[i] = true;
                            outcomes[i] = Some(ItemOutcome {
                                action: a.clone(),
                                status: Status::NotRun,
                                detail: "an earlier change to this guest did not happen".into(),
                                upid: None,
                                seconds: 0.0,
                            });
                            continue;
                        }
                        Some(_) => {}
                    }
                }
                let load = node_load.entry(a.target.node.clone()).or_default();
                if *load >= per_node {
                    continue;
                }
                *load += 1;
                started[i] = true;
                let vmid = a.target.vmid;
                // After an earlier action of this plan on the same guest, the snapshot of the
                // cluster taken at the start (status, digest) is outdated by our own change: the
                // check was made for the first action of the chain, and the digest is dropped.
                let chained = previous[i].is_some();
                let mut action = a.clone();
                if chained {
                    action.precondition.digest = None;
                }
                let job = Job {
                    client: client.clone(),
                    audit: Arc::clone(audit),
                    action,
                    live: live.get(&vmid).cloned(),
                    check: opts.check_preconditions && !chained,
                    wait: opts.wait.clone(),
                    progress: tx.clone(),
                    tag: format!("[{}/{total}]", i + 1),
                };
                let handle = set.spawn(job.run());
                ids.insert(handle.id(), (i, Instant::now()));
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
                    Err(e) => (e.id(), JobResult::new(Status::Failed, format!("internal error: {e}"), None)),
                };
                let Some((i, since)) = ids.remove(&id) else { continue };
                let a = &actions[i];
                if let Some(load) = node_load.get_mut(&a.target.node) {
                    *load = load.saturating_sub(1);
                }
                while let Ok(line) = rx.try_recv() {
                    progress(&line);
                }
                let seconds = since.elapsed().as_secs_f64();
                progress(&format!(
                    "[{}/{total}] {}: {} {} — {}",
                    i + 1,
                    a.target.label(),
                    a.summary(),
                    result.status.as_str(),
                    result.detail
                ));
                if result.status == Status::Failed && !opts.keep_going && halted.is_none() {
                    halted = Some("not started: an earlier action failed (use --keep-going to go on)");
                }
                outcomes[i] = Some(ItemOutcome {
                    action: a.clone(),
                    status: result.status,
                    detail: result.detail,
                    upid: result.upid,
                    seconds,
                });
            }
            () = opts.cancel.cancelled(), if halted.is_none() => {}
        }
    }
    while let Ok(line) = rx.try_recv() {
        progress(&line);
    }
    let why = halted.unwrap_or("not started");
    outcomes
        .into_iter()
        .zip(actions)
        .map(|(o, a)| {
            o.unwrap_or(ItemOutcome {
                action: a,
                status: Status::NotRun,
                detail: why.to_string(),
                upid: None,
                seconds: 0.0,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
