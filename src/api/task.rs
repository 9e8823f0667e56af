//! Following a task to its end: `Client::wait_task`.
//!
//! Polls `GET .../tasks/{upid}/status` with a backoff (`poll_min` doubling up to `poll_max`),
//! streams new log lines from `GET .../tasks/{upid}/log?start=N` to a callback as they appear,
//! and on `stopped` reads the rest of the log and maps `exitstatus` (FACTS §4): "OK" and
//! "WARNINGS: n" succeed, anything else is [`ApiError::TaskFailed`]. A timeout or a
//! cancellation token ends the wait (the task itself keeps running on the server).

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::endpoints::{self, ApiRequest};
use super::error::ApiError;
use super::models::{TaskLogLine, TaskStatus};
use super::upid::Upid;

/// How to wait for a task.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// First pause between status polls.
    pub poll_min: Duration,
    /// Longest pause between status polls.
    pub poll_max: Duration,
    /// Give up waiting after this long (`ApiError::Timeout`).
    pub timeout: Option<Duration>,
    /// Stop waiting when cancelled (`ApiError::Cancelled`).
    pub cancel: Option<CancellationToken>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(1),
            timeout: None,
            cancel: None,
        }
    }
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

/// The next poll pause: doubled, capped at `max`.
pub fn next_pause(current: Duration, max: Duration) -> Duration {
    (current * 2).min(max)
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
        let mut seen: u64 = 0;
        let mut pause = opts.poll_min;
        loop {
            let status: TaskStatus = self
                .get_typed(&endpoints::task_status(&upid.node, upid))
                .await?;
            seen = self.drain_log(upid, seen, on_log).await?;
            if status.status == "stopped" {
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
            tokio::time::sleep(pause).await;
            pause = next_pause(pause, opts.poll_max);
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

    #[test]
    fn backoff_doubles_to_the_cap() {
        let max = Duration::from_secs(1);
        let mut p = Duration::from_millis(50);
        let mut seen = vec![];
        for _ in 0..7 {
            seen.push(p.as_millis());
            p = next_pause(p, max);
        }
        assert_eq!(seen, [50, 100, 200, 400, 800, 1000, 1000]);
    }
}
