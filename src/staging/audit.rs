//! The audit log: one JSON line per mutating API call (and one when its task ends), appended and
//! flushed at once so that a crash right after a call still leaves its trace.
//!
//! Lines hold the time, cluster, user, action, target, parameters (secrets redacted by
//! [`super::Action::audit_params`]), the UPID and the outcome. This module never sees a secret
//! and never prints; a log that cannot be written is reported once through the returned error.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::action::Action;

/// One line of the log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// RFC 3339, UTC.
    pub time: String,
    /// `call` for a mutating request, `task` when its task ended.
    pub event: &'static str,
    pub cluster: String,
    pub user: String,
    pub action: String,
    pub vmid: u32,
    pub node: String,
    pub name: String,
    pub method: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    pub upid: Option<String>,
    /// `submitted`, `ok`, or `error: ...`; for an `approval` line `approved` or `rejected`.
    pub outcome: String,
    /// The approval request this call was approved by (`approve ID`), or that an `approval`
    /// line is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Who approved (or rejected) it: the local user and the PVE user of their session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// Who asked for the approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// The writer; shared by the tasks of a commit behind a mutex.
#[derive(Debug)]
pub struct AuditLog {
    path: Option<PathBuf>,
    cluster: String,
    user: String,
    file: Mutex<Option<File>>,
    /// Set on the log of an approved commit: every line says which approval, and whose.
    approval: Option<Approval>,
}

#[derive(Debug, Clone)]
struct Approval {
    id: String,
    approved_by: String,
    requested_by: String,
}

impl AuditLog {
    /// A log appending to `path`, or a log that records nothing when `path` is `None`.
    pub fn new(path: Option<PathBuf>, cluster: &str, user: &str) -> AuditLog {
        AuditLog {
            path,
            cluster: cluster.to_string(),
            user: user.to_string(),
            file: Mutex::new(None),
            approval: None,
        }
    }

    /// The same log, for the calls of a plan approved by `approved_by` under approval `id`
    /// (requested by `requested_by`): each of its lines names them.
    pub fn approved(&self, id: &str, approved_by: &str, requested_by: &str) -> AuditLog {
        AuditLog {
            path: self.path.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
            file: Mutex::new(None),
            approval: Some(Approval {
                id: id.to_string(),
                approved_by: approved_by.to_string(),
                requested_by: requested_by.to_string(),
            }),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Builds the line for a call of `action` (or a task end, with `event` = `task`).
    pub fn entry(
        &self,
        event: &'static str,
        action: &Action,
        upid: Option<&str>,
        outcome: &str,
    ) -> AuditEntry {
        let req = action.request();
        AuditEntry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            event,
            cluster: self.cluster.clone(),
            user: self.user.clone(),
            action: action.kind().as_str().to_string(),
            vmid: action.target.vmid,
            node: action.target.node.clone(),
            name: action.target.name.clone(),
            method: req.method.as_str().to_string(),
            path: req.path,
            params: action.audit_params(),
            upid: upid.map(str::to_string),
            outcome: outcome.to_string(),
            approval: self.approval.as_ref().map(|a| a.id.clone()),
            approved_by: self.approval.as_ref().map(|a| a.approved_by.clone()),
            requested_by: self.approval.as_ref().map(|a| a.requested_by.clone()),
        }
    }

    /// Appends one line and flushes it. Errors name the file.
    pub fn write(&self, entry: &AuditEntry) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut line = serde_json::to_string(entry).map_err(|e| e.to_string())?;
        line.push('\n');
        let mut guard = self
            .file
            .lock()
            .map_err(|_| "the audit log writer was poisoned".to_string())?;
        if guard.is_none() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
            *guard = Some(f);
        }
        if let Some(f) = guard.as_mut() {
            f.write_all(line.as_bytes())
                .and_then(|()| f.flush())
                .map_err(|e| format!("cannot write the audit log {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GuestKind;
    use crate::staging::{ConfigChange, Op, Precondition, Target};

    #[test]
    fn appends_one_json_line_per_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("audit.jsonl");
        let log = AuditLog::new(Some(path.clone()), "demo", "root@pam");
        let a = Action::new(
            Op::Set(ConfigChange::of([(
                "cipassword".to_string(),
                "hunter2".to_string(),
            )])),
            Target {
                vmid: 101,
                node: "pve1".into(),
                guest_kind: GuestKind::Qemu,
                name: "web01".into(),
            },
            Precondition {
                digest: None,
                node: "pve1".into(),
                status: "running".into(),
            },
        );
        log.write(&log.entry("call", &a, Some("UPID:x"), "submitted"))
            .unwrap();
        log.write(&log.entry("task", &a, Some("UPID:x"), "ok"))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(!text.contains("hunter2"));
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"], "call");
        assert_eq!(first["path"], "/nodes/pve1/qemu/101/config");
        assert_eq!(first["user"], "root@pam");
    }
}
