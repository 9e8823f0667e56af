//! Following a task to its end: `Client::wait_task`.
//!
//! A status poll is one request, `GET .../tasks/{upid}/status`. The log
//! (`GET .../tasks/{upid}/log?start=N`) is read only as [`WaitOptions::log`] asks:
//! - [`TaskLog::Stream`] (the default): drained after every poll, new lines go to `on_log` as
//!   they appear (for a single task whose progress is shown);
//! - [`TaskLog::AtEnd`]: read once, when the task has stopped, and passed to `on_log`;
//! - [`TaskLog::Skip`]: never read. A failure loses nothing: PVE's `exitstatus` of a failed
//!   task is its error message, and that is what [`ApiError::TaskFailed`] carries. This is what
//!   bulk work uses: one POST plus a few status polls per task.
//!
//! On `stopped`, `exitstatus` is mapped (FACTS §4): "OK" and "WARNINGS: n" succeed, anything
//! else is [`ApiError::TaskFailed`]. A timeout or a cancellation token ends the wait (the task
//! itself keeps running on the server).
//!
//! Polling adapts to how long tasks of the same type took ([`TaskTimes`], shared between
//! waits): with an estimate E the first poll comes a little before E, then polls follow at a
//! fraction of E, doubling up to `poll_max`; without one, pauses grow 1.5× from `poll_min`. The
//! schedule is the pure function [`pause_before`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::endpoints::{self, ApiRequest};
use super::error::ApiError;
use super::models::{TaskLogLine, TaskStatus};
use super::upid::Upid;

/// When a wait reads the task's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskLog {
    /// After every status poll, passing new lines to `on_log` as they appear.
    #[default]
    Stream,
    /// Once, after the task stopped.
    AtEnd,
    /// Never; `on_log` is not called and `TaskOutcome::log_lines` is 0.
    Skip,
}

/// How to wait for a task.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// First pause between status polls when there is no estimate; also the shortest pause.
    pub poll_min: Duration,
    /// Longest pause between status polls.
    pub poll_max: Duration,
    /// Give up waiting after this long (`ApiError::Timeout`).
    pub timeout: Option<Duration>,
    /// Stop waiting when cancelled (`ApiError::Cancelled`).
    pub cancel: Option<CancellationToken>,
    /// When to read the log (default: stream it).
    pub log: TaskLog,
    /// Observed task durations, to poll when a task is likely to be done; `None`: plain
    /// doubling backoff. Waits that share one learn from each other.
    pub times: Option<Arc<TaskTimes>>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(1),
            timeout: None,
            cancel: None,
            log: TaskLog::Stream,
            times: None,
        }
    }
}

/// Weight of a new observation in [`TaskTimes`]' moving average.
const EWMA_WEIGHT: f64 = 0.3;
/// The first poll comes at this share of the estimate (a little early beats a little late:
/// a late poll costs up to a whole pause, an early one a short extra poll).
const FIRST_POLL_SHARE: f64 = 0.9;
/// Later polls start at this share of the estimate, doubling up to `poll_max`.
const STEP_SHARE: f64 = 0.1;
/// Without an estimate, each pause is this many times the one before.
const NO_ESTIMATE_GROWTH: f64 = 1.5;
/// No pause after an estimate is shorter than this.
const MIN_STEP: Duration = Duration::from_millis(5);

/// How long tasks took, per task type (`Upid::kind`): an exponentially weighted moving average
/// of observed durations. Thread-safe; share it with `Arc`.
#[derive(Debug, Default)]
pub struct TaskTimes {
    by_kind: Mutex<HashMap<String, Duration>>,
}

impl TaskTimes {
    /// The process-wide estimator, so a session learns across commands.
    pub fn shared() -> Arc<TaskTimes> {
        static SHARED: OnceLock<Arc<TaskTimes>> = OnceLock::new();
        SHARED
            .get_or_init(|| Arc::new(TaskTimes::default()))
            .clone()
    }

    /// The current estimate for tasks of type `kind`.
    pub fn estimate(&self, kind: &str) -> Option<Duration> {
        self.by_kind.lock().ok()?.get(kind).copied()
    }

    /// Records that a task of type `kind` took about `took`.
    pub fn observe(&self, kind: &str, took: Duration) {
        let Ok(mut map) = self.by_kind.lock() else {
            return;
        };
        let next = match map.get(kind) {
            Some(old) => old.mul_f64(1.0 - EWMA_WEIGHT) + took.mul_f64(EWMA_WEIGHT),
            None => took,
        };
        map.insert(kind.to_string(), next);
    }
}

/// The best guess of a task's duration from what the polls saw: it was still running at
/// `running` (when the last "running" poll was sent; None: no poll saw it running) and had
/// stopped by `stopped` (when the "stopped" answer came), both since the wait began.
pub fn observed_duration(running: Option<Duration>, stopped: Duration) -> Duration {
    match running {
        Some(r) if r < stopped => r + (stopped - r) / 2,
        _ => stopped,
    }
}

/// The pause before status poll number `polls + 1` (counted from 0: the first poll also waits).
///
/// Without an estimate: `poll_min`, growing 1.5× each poll. With an estimate E: the first pause is
/// 0.9 E, so one poll usually finds the task stopped; later pauses are 0.1 E doubling each poll
/// (`poll_min` does not apply: the estimate knows better; no pause is under 5 ms). Every pause is
/// capped at `poll_max`.
pub fn pause_before(
    polls: u32,
    estimate: Option<Duration>,
    poll_min: Duration,
    poll_max: Duration,
) -> Duration {
    let doubled = |base: Duration, times: u32| base.saturating_mul(1u32 << times.min(20));
    let pause = match estimate {
        // x1.5 rather than x2: a poll that comes late costs up to (factor - 1) of the time
        // waited so far; this is the first batch of an unknown task type, which sets the
        // pace for the rest of a bulk action.
        None => poll_min.mul_f64(NO_ESTIMATE_GROWTH.powi(polls.min(60) as i32)),
        Some(e) if polls == 0 => e.mul_f64(FIRST_POLL_SHARE).max(MIN_STEP),
        Some(e) => doubled(e.mul_f64(STEP_SHARE).max(MIN_STEP), polls - 1),
    };
    pause.min(poll_max)
}

/// A task that ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub upid: Upid,
    /// "OK" or "WARNINGS: n".
    pub exitstatus: String,
    /// Log lines seen (and passed to `on_log`).
    pub log_lines: usize,
}

/// Lines fetched per log request.
const LOG_PAGE: u64 = 500;

/// True when a task's exit status means success.
pub fn exit_ok(exitstatus: &str) -> bool {
    exitstatus == "OK" || exitstatus.starts_with("WARNINGS:")
}

/// True for PVE's answer to an empty log: exactly `[{"n":1,"t":"no content"}]`.
pub fn is_empty_placeholder(lines: &[TaskLogLine]) -> bool {
    matches!(lines, [only] if only.n == 1 && only.t == "no content")
}

/// The progress a task log line reports: `transferred 8.0 GiB of 32.0 GiB (25.00%)` (migrate,
/// clone, disk move), `INFO:  10% (3.2 GiB of 32.0 GiB) in 3s, read: ...` (vzdump),
/// `progress 10% (read 3435973836 bytes, ...)` (restore).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogProgress {
    /// 0 to 100.
    pub percent: f64,
    /// Bytes done and in all, when the line says (`8.0 GiB of 32.0 GiB`).
    pub done: Option<u64>,
    pub total: Option<u64>,
}

impl LogProgress {
    /// `25% (8.0 GiB of 32.0 GiB)`, or `25%` when the line gave no sizes.
    pub fn text(&self) -> String {
        let pct = format!("{:.0}%", self.percent.floor());
        match (self.done, self.total) {
            (Some(d), Some(t)) => format!(
                "{pct} ({} of {})",
                crate::lang::format_size(d),
                crate::lang::format_size(t)
            ),
            _ => pct,
        }
    }
}

/// The size a `wget` log line announces (`Length: 346030080 (330M) [application/...]`), which
/// the download tasks' later percentage lines are a share of.
pub fn log_length(line: &str) -> Option<u64> {
    line.strip_prefix("Length: ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl LogProgress {
    /// Fills in the sizes from `total` (from [`log_length`]) when the line gave only a share.
    pub fn of_total(self, total: Option<u64>) -> LogProgress {
        match (self.total, total) {
            (None, Some(t)) => LogProgress {
                done: Some((t as f64 * self.percent / 100.0).round() as u64),
                total: Some(t),
                ..self
            },
            _ => self,
        }
    }
}

/// Reads the progress in a task log line: its first `N%` (0 to 100) and its first
/// `SIZE of SIZE`; `None` for a line without a percentage.
pub fn log_progress(line: &str) -> Option<LogProgress> {
    let pct = first_percent(line)?;
    let (done, total) = sizes_of(line).unzip();
    Some(LogProgress {
        percent: pct,
        done,
        total,
    })
}

/// The number before the first `%` that follows a number not glued to other digits or dots.
fn first_percent(line: &str) -> Option<f64> {
    let bytes = line.as_bytes();
    for (i, _) in line.match_indices('%') {
        let start = bytes[..i]
            .iter()
            .rposition(|b| !(b.is_ascii_digit() || *b == b'.'))
            .map_or(0, |p| p + 1);
        let Ok(n) = line[start..i].parse::<f64>() else {
            continue;
        };
        return (0.0..=100.0).contains(&n).then_some(n);
    }
    None
}

/// The first `SIZE of SIZE` (`8.0 GiB of 32.0 GiB`), in bytes.
fn sizes_of(line: &str) -> Option<(u64, u64)> {
    line.match_indices(" of ").find_map(|(i, _)| {
        let before = line[..i]
            .rsplitn(3, ' ')
            .take(2)
            .map(|w| w.trim_start_matches('('))
            .collect::<Vec<_>>();
        let done = match before.as_slice() {
            [unit, n] => size_word(&format!("{n}{unit}")).or_else(|| size_word(unit)),
            [one] => size_word(one),
            _ => None,
        }?;
        let mut after = line[i + 4..]
            .split([' ', ')', ','])
            .filter(|w| !w.is_empty());
        let first = after.next()?;
        let total = size_word(first).or_else(|| size_word(&format!("{first}{}", after.next()?)))?;
        Some((done, total))
    })
}

/// `8.0GiB`, `330.0MiB`, `12B` as bytes; not a bare number.
fn size_word(w: &str) -> Option<u64> {
    let digits = w.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    (digits > 0 && w[digits..].ends_with('B'))
        .then(|| crate::lang::parse_size(w))
        .flatten()
}

impl Client {
    /// Sends a request to an asynchronous endpoint and returns its UPID; `None` when the
    /// server finished at once and answered `null` (e.g. `POST .../config` within
    /// `background_delay`).
    pub async fn start_task(&self, req: &ApiRequest) -> Result<Option<Upid>, ApiError> {
        match self.get(req).await? {
            Value::Null => Ok(None),
            Value::String(s) => s
                .parse()
                .map(Some)
                .map_err(|e: super::upid::UpidParseError| ApiError::Decode {
                    path: req.path.clone(),
                    detail: e.to_string(),
                }),
            other => Err(ApiError::Decode {
                path: req.path.clone(),
                detail: format!("expected a task id (UPID) or null, got {other}"),
            }),
        }
    }

    /// [`Client::start_task`] then [`Client::wait_task`]; `None` when there was no task.
    pub async fn run_task(
        &self,
        req: &ApiRequest,
        opts: &WaitOptions,
        on_log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Option<TaskOutcome>, ApiError> {
        match self.start_task(req).await? {
            Some(upid) => self.wait_task(&upid, opts, on_log).await.map(Some),
            None => Ok(None),
        }
    }

    /// Waits for `upid` to stop, streaming its log to `on_log`.
    pub async fn wait_task(
        &self,
        upid: &Upid,
        opts: &WaitOptions,
        on_log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<TaskOutcome, ApiError> {
        let work = self.follow(upid, opts, on_log);
        let cancel = opts.cancel.clone().unwrap_or_default();
        let limited = async {
            match opts.timeout {
                Some(limit) => {
                    tokio::time::timeout(limit, work)
                        .await
                        .map_err(|_| ApiError::Timeout {
                            what: format!("waiting for task {upid}"),
                            secs: super::error::whole_secs(limit),
                        })?
                }
                None => work.await,
            }
        };
        tokio::select! {
            result = limited => result,
            () = cancel.cancelled() => Err(ApiError::Cancelled),
        }
    }

    async fn follow(
        &self,
        upid: &Upid,
        opts: &WaitOptions,
        on_log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<TaskOutcome, ApiError> {
        let began = Instant::now();
        let estimate = opts.times.as_ref().and_then(|t| t.estimate(&upid.kind));
        let mut seen: u64 = 0;
        let mut polls: u32 = 0;
        let mut last_running: Option<Duration> = None;
        loop {
            tokio::time::sleep(pause_before(polls, estimate, opts.poll_min, opts.poll_max)).await;
            polls = polls.saturating_add(1);
            // The server saw the task running at some time after this.
            let sent = began.elapsed();
            let status: TaskStatus = self
                .get_typed(&endpoints::task_status(&upid.node, upid))
                .await?;
            let answered = began.elapsed();
            let stopped = status.status == "stopped";
            if opts.log == TaskLog::Stream || (stopped && opts.log == TaskLog::AtEnd) {
                seen = self.drain_log(upid, seen, on_log).await?;
            }
            if stopped {
                if let Some(times) = &opts.times {
                    times.observe(&upid.kind, observed_duration(last_running, answered));
                }
                let exitstatus = status
                    .exitstatus
                    .unwrap_or_else(|| "unknown exit status".to_string());
                let log_lines = usize::try_from(seen).unwrap_or(usize::MAX);
                return if exit_ok(&exitstatus) {
                    Ok(TaskOutcome {
                        upid: upid.clone(),
                        exitstatus,
                        log_lines,
                    })
                } else {
                    Err(ApiError::TaskFailed {
                        upid: upid.to_string(),
                        exitstatus,
                    })
                };
            }
            last_running = Some(sent);
        }
    }

    /// Fetches log lines after the first `seen` and passes each to `on_log`; returns the new
    /// count.
    async fn drain_log(
        &self,
        upid: &Upid,
        mut seen: u64,
        on_log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<u64, ApiError> {
        loop {
            let req = endpoints::task_log(&upid.node, upid, seen, LOG_PAGE);
            let data: Value = self.get(&req).await?;
            let lines: Vec<TaskLogLine> =
                serde_json::from_value(data).map_err(|e| ApiError::Decode {
                    path: req.path.clone(),
                    detail: e.to_string(),
                })?;
            // An empty log file is answered with one pseudo line `{n:1, t:"no content"}`
            // (pve-common `dump_logfile`); it is not a line of the task.
            let placeholder = seen == 0 && is_empty_placeholder(&lines);
            let real: Vec<&TaskLogLine> = if placeholder {
                Vec::new()
            } else {
                lines.iter().filter(|l| l.n > seen).collect()
            };
            for line in &real {
                on_log(&line.t);
            }
            let fetched = real.len() as u64;
            seen = real.last().map_or(seen, |l| l.n);
            if fetched < LOG_PAGE {
                return Ok(seen);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_in_task_log_lines() {
        const GIB: u64 = 1 << 30;
        type Want = Option<(f64, Option<u64>, Option<u64>)>;
        let cases: &[(&str, Want)] = &[
            (
                "transferred 8.0 GiB of 32.0 GiB (25.00%)",
                Some((25.0, Some(8 * GIB), Some(32 * GIB))),
            ),
            (
                "drive-scsi0: transferred 1.0 GiB of 32.0 GiB (3.12%) in 2s",
                Some((3.12, Some(GIB), Some(32 * GIB))),
            ),
            (
                "INFO:  10% (3.2 GiB of 32.0 GiB) in 3s, read: 1.1 GiB/s, write: 900.0 MiB/s",
                Some((10.0, Some(3_435_973_837), Some(32 * GIB))),
            ),
            (
                "progress 10% (read 3435973836 bytes, duration 1 sec)",
                Some((10.0, None, None)),
            ),
            (
                "INFO: transferred 32.00 GiB in 30 seconds (1.1 GiB/s)",
                None,
            ),
            ("INFO: status = running", None),
            ("starting migration of VM 101 to node 'pve2'", None),
            ("weird 250% line", None),
            (
                "  32768K ........ ........ ........ ........  19%  112M 2s",
                Some((19.0, None, None)),
            ),
        ];
        for (line, want) in cases {
            let got = log_progress(line).map(|p| (p.percent, p.done, p.total));
            assert_eq!(got, *want, "{line}");
        }
        let length = "Length: 346030080 (330M) [application/octet-stream]";
        assert_eq!(log_length(length), Some(346_030_080));
        assert_eq!(log_length("Saving to: 'x.tmp'"), None);
        let half = log_progress("50%").unwrap().of_total(Some(1000));
        assert_eq!((half.done, half.total), (Some(500), Some(1000)));
        assert_eq!(half.text(), "50% (500 B of 1000 B)");
    }

    #[test]
    fn exit_statuses() {
        for (status, ok) in [
            ("OK", true),
            ("WARNINGS: 2", true),
            ("VM 100 already running", false),
            ("", false),
            ("unexpected status", false),
        ] {
            assert_eq!(exit_ok(status), ok, "{status}");
        }
    }

    #[test]
    fn empty_log_placeholder() {
        let line = |n, t: &str| TaskLogLine {
            n,
            t: t.to_string(),
        };
        assert!(is_empty_placeholder(&[line(1, "no content")]));
        assert!(!is_empty_placeholder(&[line(1, "starting")]));
        assert!(!is_empty_placeholder(&[
            line(1, "no content"),
            line(2, "x")
        ]));
        assert!(!is_empty_placeholder(&[]));
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn schedule(estimate: Option<Duration>, min: u64, max: u64, n: u32) -> Vec<u128> {
        (0..n)
            .map(|i| pause_before(i, estimate, ms(min), ms(max)).as_millis())
            .collect()
    }

    #[test]
    fn without_an_estimate_pauses_grow_to_the_cap() {
        assert_eq!(
            schedule(None, 40, 1000, 9),
            [40, 60, 90, 135, 202, 303, 455, 683, 1000]
        );
        // A huge poll count neither overflows nor passes the cap.
        assert_eq!(pause_before(200, None, ms(50), ms(1000)), ms(1000));
    }

    #[test]
    fn with_an_estimate_the_first_poll_comes_just_before_it() {
        assert_eq!(
            schedule(Some(ms(200)), 10, 250, 6),
            [180, 20, 40, 80, 160, 250]
        );
        // Long tasks: the first pause is capped too, then short polls grow back to the cap.
        assert_eq!(schedule(Some(ms(30_000)), 10, 1000, 2), [1000, 1000]);
        // Very short tasks: never below 5 ms.
        assert_eq!(schedule(Some(ms(1)), 10, 250, 3), [5, 5, 10]);
        assert_eq!(pause_before(100, Some(ms(200)), ms(10), ms(250)), ms(250));
    }

    #[test]
    fn observed_duration_is_the_middle_of_what_the_polls_bracket() {
        assert_eq!(observed_duration(None, ms(180)), ms(180));
        assert_eq!(observed_duration(Some(ms(180)), ms(200)), ms(190));
        assert_eq!(observed_duration(Some(ms(300)), ms(200)), ms(200));
    }

    #[test]
    fn task_times_average_per_kind() {
        let t = TaskTimes::default();
        assert_eq!(t.estimate("qmsnapshot"), None);
        t.observe("qmsnapshot", ms(200));
        assert_eq!(t.estimate("qmsnapshot"), Some(ms(200)));
        t.observe("qmsnapshot", ms(300));
        let e = t.estimate("qmsnapshot").map(|d| d.as_micros());
        assert!(matches!(e, Some(229_990..=230_010)), "{e:?}");
        assert_eq!(t.estimate("qmstart"), None);
    }
}
