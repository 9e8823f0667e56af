//! Confirmed commits and the clock they are timed by.
//!
//! `commit --confirm 5m` snapshots every affected guest, applies the plan, and opens a window:
//! unless `confirm` arrives before the deadline, every guest is rolled back to its snapshot.
//! This module holds the window ([`ConfirmPlan`] in a shared [`ConfirmSlot`]), builds the
//! rollback and clean-up actions, and offers a background timer for interactive sessions. The
//! deadline is measured by a [`Clock`]: the local clock, or — for deterministic tests, selected
//! by the hidden `PVESH_PLUS_CLOCK=server` — the server's (`GET /nodes/{node}/time`).

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::action::{Action, Op, Target};
use crate::api::{BoxFuture, Client, endpoints};
use crate::error::{Error, Result};

/// A source of "now" in Unix seconds.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, Result<i64>>;
    /// True when real time passes at the clock's pace (a background timer can sleep on it).
    fn is_local(&self) -> bool;
}

/// The machine's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now<'a>(&'a self, _client: &'a Client) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async { Ok(chrono::Utc::now().timestamp()) })
    }

    fn is_local(&self) -> bool {
        true
    }
}

/// The cluster's clock: `GET /nodes/{node}/time` on the first node `GET /nodes` lists.
#[derive(Debug, Default)]
pub struct ServerClock {
    node: Mutex<Option<String>>,
}

impl ServerClock {
    async fn node(&self, client: &Client) -> Result<String> {
        if let Some(n) = self.node.lock().ok().and_then(|g| g.clone()) {
            return Ok(n);
        }
        let nodes = client.get(&endpoints::nodes()).await?;
        let first = nodes
            .as_array()
            .and_then(|a| a.iter().find_map(|n| n.get("node")?.as_str()))
            .ok_or_else(|| Error::internal("the server lists no node to read the time from"))?
            .to_string();
        if let Ok(mut g) = self.node.lock() {
            *g = Some(first.clone());
        }
        Ok(first)
    }
}

impl Clock for ServerClock {
    fn now<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let node = self.node(client).await?;
            let req = crate::api::ApiRequest::get(format!(
                "/nodes/{}/time",
                crate::api::endpoints::encode_segment(&node)
            ));
            let data = client.get(&req).await?;
            data.get("time")
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| Error::internal("GET /nodes/{node}/time gave no `time`"))
        })
    }

    fn is_local(&self) -> bool {
        false
    }
}

/// The clock chosen by the environment: the server's when `PVESH_PLUS_CLOCK=server`.
pub fn clock_from_env() -> Arc<dyn Clock> {
    match std::env::var("PVESH_PLUS_CLOCK").as_deref() {
        Ok("server") => Arc::new(ServerClock::default()),
        _ => Arc::new(SystemClock),
    }
}

/// An open confirmation window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmPlan {
    /// Unix seconds (by the session's clock) after which the guests roll back.
    pub deadline: i64,
    /// The snapshot taken of every guest before the commit.
    pub snapname: String,
    /// The guests, and whether each was running when snapshotted (a rollback restarts those).
    pub guests: Vec<(Target, bool)>,
}

/// The window, shared by the session and the background timer (whoever takes it acts), and
/// saved next to the pending buffer: a session that dies inside the window (closed terminal,
/// `kill -9`) leaves it on disk, and the next start picks it up, so the rollback still happens.
#[derive(Debug, Default)]
pub struct ConfirmWindow {
    plan: Mutex<Option<ConfirmPlan>>,
    path: Option<PathBuf>,
}

pub type ConfirmSlot = Arc<ConfirmWindow>;

impl ConfirmWindow {
    /// A window saved at `path`, restored from it if an earlier session left one there.
    pub fn restore(path: Option<PathBuf>) -> ConfirmWindow {
        let plan = path
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| serde_json::from_str(&text).ok());
        ConfirmWindow {
            plan: Mutex::new(plan),
            path,
        }
    }

    /// Opens the window (saving it first, so a crash right after still knows it).
    pub fn open(&self, plan: ConfirmPlan) -> Result<()> {
        if let Some(path) = &self.path {
            let text = serde_json::to_string_pretty(&plan)
                .map_err(|e| Error::internal(format!("cannot encode the confirm window: {e}")))?;
            let tmp = path.with_extension("json.tmp");
            std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new(".")))
                .and_then(|()| std::fs::write(&tmp, text))
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| {
                    Error::internal(format!(
                        "cannot save the confirm window to {}: {e}",
                        path.display()
                    ))
                })?;
        }
        if let Ok(mut g) = self.plan.lock() {
            *g = Some(plan);
        }
        Ok(())
    }

    /// Takes the plan out (so it is acted on once) and forgets the saved copy.
    pub fn take(&self) -> Option<ConfirmPlan> {
        let plan = self.plan.lock().ok().and_then(|mut g| g.take());
        if plan.is_some()
            && let Some(path) = &self.path
        {
            let _ = std::fs::remove_file(path);
        }
        plan
    }

    /// The open plan, left in place.
    pub fn peek(&self) -> Option<ConfirmPlan> {
        self.plan.lock().ok().and_then(|g| g.clone())
    }
}

/// Takes the plan out of the window (so it is acted on once).
pub fn take(slot: &ConfirmSlot) -> Option<ConfirmPlan> {
    slot.take()
}

/// The plan in the window, left there.
pub fn peek(slot: &ConfirmSlot) -> Option<ConfirmPlan> {
    slot.peek()
}

/// `pvesh-confirm-<unix time>`: a valid PVE snapshot name (letters, digits, `-`; ≤ 40).
pub fn snapshot_name(now: i64) -> String {
    format!("pvesh-confirm-{now}")
}

fn on_guest(op: Op, target: &Target, running: bool) -> Action {
    Action::on(
        op,
        target.clone(),
        if running { "running" } else { "stopped" },
    )
}

/// The snapshot taken of each guest before a confirmed commit.
pub fn snapshot_actions(snapname: &str, guests: &[(Target, bool)]) -> Vec<Action> {
    guests
        .iter()
        .map(|(t, running)| {
            let op = Op::Snapshot {
                name: snapname.to_string(),
                vmstate: false,
                description: Some("taken by pvesh+ before a confirmed commit".to_string()),
            };
            on_guest(op, t, *running)
        })
        .collect()
}

/// The rollbacks that undo a confirmed commit; guests that were running are started again.
pub fn rollback_actions(plan: &ConfirmPlan) -> Vec<Action> {
    plan.guests
        .iter()
        .map(|(t, running)| {
            let op = Op::Rollback {
                name: plan.snapname.clone(),
                start: *running,
            };
            on_guest(op, t, *running)
        })
        .collect()
}

/// The snapshot deletions once a commit is confirmed.
pub fn cleanup_actions(plan: &ConfirmPlan) -> Vec<Action> {
    plan.guests
        .iter()
        .map(|(t, running)| {
            let op = Op::Delsnapshot {
                name: plan.snapname.clone(),
            };
            on_guest(op, t, *running)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GuestKind;

    #[test]
    fn rollback_restarts_what_was_running() {
        let t = |vmid| Target {
            vmid,
            node: "pve1".into(),
            guest_kind: GuestKind::Qemu,
            name: format!("vm{vmid}"),
        };
        let plan = ConfirmPlan {
            deadline: 100,
            snapname: snapshot_name(40),
            guests: vec![(t(101), true), (t(102), false)],
        };
        let rb = rollback_actions(&plan);
        assert_eq!(rb[0].summary(), "rollback pvesh-confirm-40 --start");
        assert_eq!(rb[1].summary(), "rollback pvesh-confirm-40");
        assert_eq!(
            cleanup_actions(&plan)[1].summary(),
            "delsnapshot pvesh-confirm-40"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confirm-demo.json");
        let slot: ConfirmSlot = Arc::new(ConfirmWindow::restore(Some(path.clone())));
        assert_eq!(peek(&slot), None);
        slot.open(plan.clone()).unwrap();
        assert_eq!(peek(&slot), Some(plan.clone()));
        let again = ConfirmWindow::restore(Some(path.clone()));
        assert_eq!(
            again.peek(),
            Some(plan.clone()),
            "a new session finds the open window"
        );
        assert_eq!(take(&slot), Some(plan));
        assert_eq!(take(&slot), None);
        assert!(!path.exists());
    }
}
