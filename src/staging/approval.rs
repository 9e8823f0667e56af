//! Approvals: a person's out-of-band yes to one exact plan, asked for by a script or an agent.
//!
//! A caller that may not apply a change itself (`agent.require_approval`, or an agent that
//! wants a human to look first) asks for an approval of the pending plan:
//! [`super::StagingState::request_approval`] saves an [`ApprovalRequest`] (an id, the plan, its
//! [`plan_hash`], who asked, when it expires) in this cluster's approvals file, next to its
//! pending buffer (`approvals-<cluster>-<id>.json`, written atomically, mode 0600: a plan may
//! carry a secret until it is committed). A person then approves it from another terminal
//! ([`super::StagingState::approve`]): the pending plan must still be exactly the requested one
//! (same hash), the request must not have expired, and every guest's config digest must still
//! be the one planned; then the plan is committed with every audit line naming the approval,
//! who asked and who approved. A request is used once: approving or rejecting removes it.
//!
//! A `--demo` run keeps its approvals in memory (its simulated cluster ends with the process).
//! This module never prints and never reads the terminal.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::action::Action;
use super::buffer::{ClusterIdentity, other_format, write_private};
use crate::api::Client;
use crate::error::{Error, ErrorKind, Result};

/// A request for a person to approve one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Eight hex digits, e.g. `3f9a0c12`: what `approve ID` and `reject ID` take.
    pub id: String,
    /// [`plan_hash`] of `plan`: the approval is bound to exactly this plan.
    pub plan_hash: String,
    /// The planned actions, in order, as staged (with the digests they were planned against).
    pub plan: Vec<Action>,
    /// Who asked: the local user and the PVE user of that session (`bot via root@pam`).
    pub requested_by: String,
    /// Unix seconds, on the session's clock.
    pub requested_at: i64,
    /// Unix seconds; from then on the request cannot be approved.
    pub expires_at: i64,
}

impl ApprovalRequest {
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// Seconds until it expires (0 once it has).
    pub fn seconds_left(&self, now: i64) -> u64 {
        u64::try_from(self.expires_at - now).unwrap_or(0)
    }
}

/// The plan's fingerprint: SHA-256 (hex) of its actions as JSON, without their buffer ids, so
/// the same changes planned against the same guest states hash the same; any other change,
/// target, parameter, order or digest gives another hash.
pub fn plan_hash(plan: &[Action]) -> String {
    use sha2::Digest;
    let bare: Vec<Action> = plan.iter().map(|a| Action { id: 0, ..a.clone() }).collect();
    let text = serde_json::to_string(&bare).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// `USER` (or `LOGNAME`) of this process, the local person or account.
pub fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            #[cfg(unix)]
            if let Ok(m) = std::fs::metadata("/proc/self") {
                return format!("uid {}", std::os::unix::fs::MetadataExt::uid(&m));
            }
            "unknown".to_string()
        })
}

/// How an approver or requester is recorded: `alice via root@pam` (the local user, when
/// known, and the PVE user of the session).
pub fn who(local: Option<&str>, pve_user: &str) -> String {
    match (local, pve_user) {
        (Some(l), "") => l.to_string(),
        (Some(l), p) => format!("{l} via {p}"),
        (None, p) => p.to_string(),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    requests: Vec<ApprovalRequest>,
}

const VERSION: u32 = 1;

/// Requests that expired this long ago are dropped when a new one is made.
const KEEP_EXPIRED_SECS: i64 = 24 * 3600;

/// The approval requests of one cluster: a file shared by every process that talks to that
/// cluster (read again on every call), or a list in memory.
#[derive(Debug, Default)]
pub struct ApprovalStore {
    path: Option<PathBuf>,
    identity: Option<String>,
    memory: Vec<ApprovalRequest>,
}

impl ApprovalStore {
    /// In memory only (a `--demo` run, tests).
    pub fn in_memory() -> ApprovalStore {
        ApprovalStore::default()
    }

    /// The store saved at `path` (created on the first request).
    pub fn open(path: PathBuf) -> ApprovalStore {
        ApprovalStore {
            path: Some(path),
            identity: None,
            memory: Vec::new(),
        }
    }

    /// `identity`'s store: its file next to its pending buffer; a demo run's in memory.
    pub fn for_cluster(identity: &ClusterIdentity) -> ApprovalStore {
        match (identity, identity.state_file("approvals")) {
            (ClusterIdentity::Cluster { id, .. }, Some(path)) => ApprovalStore {
                path: Some(path),
                identity: Some(id.clone()),
                memory: Vec::new(),
            },
            _ => ApprovalStore::in_memory(),
        }
    }

    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    fn load(&self) -> Result<Vec<ApprovalRequest>> {
        let Some(path) = &self.path else {
            return Ok(self.memory.clone());
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        };
        let saved: Saved = serde_json::from_str(&text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "the approval requests in {} cannot be read: {e}",
                    path.display()
                ),
            )
            .hinted("move the file away: its requests are lost and must be asked for again")
        })?;
        if saved.version != VERSION {
            return Err(other_format(
                path,
                saved.version,
                "move the file away: its requests must be asked for again",
            ));
        }
        Ok(saved.requests)
    }

    fn save(&mut self, requests: Vec<ApprovalRequest>) -> Result<()> {
        let Some(path) = &self.path else {
            self.memory = requests;
            return Ok(());
        };
        let fail = |what: &str, e: std::io::Error| {
            Error::new(
                ErrorKind::Internal,
                format!(
                    "cannot save the approval requests ({what} {}): {e}",
                    path.display()
                ),
            )
            .hinted("check that the state directory is writable (XDG_STATE_HOME)")
        };
        if requests.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail("remove", e)),
                _ => Ok(()),
            };
        }
        let saved = Saved {
            version: VERSION,
            identity: self.identity.clone(),
            requests,
        };
        let text = serde_json::to_string_pretty(&saved)
            .map_err(|e| Error::internal(format!("cannot encode the approval requests: {e}")))?;
        write_private(path, &text).map_err(|(what, e)| fail(what, e))
    }

    /// Every request, oldest first (expired ones included, until a day after they expired).
    pub fn list(&self) -> Result<Vec<ApprovalRequest>> {
        self.load()
    }

    /// The request `id`; an unknown id is an approval error (exit 6) that says how to list them.
    pub fn get(&self, id: &str) -> Result<ApprovalRequest> {
        let id = id.trim();
        self.load()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Approval,
                    format!("there is no approval request '{id}' for this cluster"),
                )
                .hinted("`approvals` lists the open requests; an approved or rejected one is gone")
            })
    }

    /// Asks for an approval of `plan`, valid for `ttl` seconds from `now`. A request for the
    /// same plan that has not expired is returned again instead of making a second one.
    pub fn create(
        &mut self,
        plan: &[Action],
        requested_by: &str,
        now: i64,
        ttl: u64,
    ) -> Result<ApprovalRequest> {
        if plan.is_empty() {
            return Err(
                Error::usage("nothing is pending: there is no plan to approve")
                    .hinted("stage the change first (e.g. `stop web01`), then request approval"),
            );
        }
        let hash = plan_hash(plan);
        let mut requests = self.load()?;
        if let Some(same) = requests
            .iter()
            .find(|r| r.plan_hash == hash && !r.is_expired(now))
        {
            return Ok(same.clone());
        }
        requests.retain(|r| now - r.expires_at < KEEP_EXPIRED_SECS);
        // Derived from the plan and the time (the same on every run of a test on the
        // simulator's clock); a clash with another request takes the next one.
        let id = (0u32..)
            .map(|n| {
                use sha2::Digest;
                let seed = format!("{hash}:{now}:{n}");
                hex::encode(&sha2::Sha256::digest(seed.as_bytes())[..4])
            })
            .find(|id| !requests.iter().any(|r| &r.id == id))
            .unwrap_or_default();
        let request = ApprovalRequest {
            id,
            plan_hash: hash,
            plan: plan.iter().map(|a| Action { id: 0, ..a.clone() }).collect(),
            requested_by: requested_by.to_string(),
            requested_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX / 2)),
        };
        requests.push(request.clone());
        self.save(requests)?;
        Ok(request)
    }

    /// Removes the request `id` (it was approved or rejected) and returns it.
    pub fn remove(&mut self, id: &str) -> Result<ApprovalRequest> {
        let found = self.get(id)?;
        let mut requests = self.load()?;
        requests.retain(|r| r.id != found.id);
        self.save(requests)?;
        Ok(found)
    }
}

/// Checks that `request` may be approved now for the pending plan `plan`: not expired, and the
/// plan is exactly the one requested. (Digests are checked against the cluster by
/// [`super::StagingState::check_approval`].)
pub fn verify(request: &ApprovalRequest, plan: &[Action], now: i64) -> Result<()> {
    if request.is_expired(now) {
        let ago =
            crate::lang::format_duration(u64::try_from(now - request.expires_at).unwrap_or(0));
        return Err(Error::new(
            ErrorKind::Approval,
            format!(
                "approval request {} expired {ago} ago (requested by {}); it can no longer be approved",
                request.id, request.requested_by
            ),
        )
        .hinted(format!(
            "`reject {}` drops it; the requester asks again for a fresh one (`commit --request-approval`)",
            request.id
        )));
    }
    // What a person is shown (the request's plan) must be what its hash binds, and that must be
    // the pending plan: a request file edited to show one plan and bind another is refused.
    if plan_hash(&request.plan) != request.plan_hash {
        return Err(Error::new(
            ErrorKind::Approval,
            format!(
                "approval request {} does not match its own plan (its file was altered); it cannot be approved",
                request.id
            ),
        )
        .hinted(format!(
            "nothing was sent; `reject {}`, and have the change requested again",
            request.id
        )));
    }
    if plan_hash(plan) != request.plan_hash {
        return Err(Error::new(
            ErrorKind::Approval,
            format!(
                "the pending plan changed since approval request {} was made ({} change(s) then, {} now): an approval binds to the exact plan",
                request.id,
                request.plan.len(),
                plan.len()
            ),
        )
        .hinted(format!(
            "nothing was sent; `reject {}`, then ask for a new approval of the plan as it is now",
            request.id
        )));
    }
    Ok(())
}

impl super::StagingState {
    /// True when a non-interactive caller may not apply `action` without an approval
    /// (`agent.require_approval`). A person at the shell never needs one.
    pub fn needs_approval(&self, action: &Action) -> bool {
        use crate::config::RequireApproval;
        !self.interactive
            && match self.agent.require_approval {
                RequireApproval::None => false,
                RequireApproval::Destructive => action.risk().is_some(),
                RequireApproval::All => true,
            }
    }

    /// Refuses (exit 6) a guest creation (`new`, `new-template`) by a non-interactive caller
    /// under `agent.require_approval: all`: a creation runs as a sequence of steps and cannot be
    /// staged for an approval.
    pub fn check_creation_gate(&self, what: &str) -> Result<()> {
        if self.interactive || self.agent.require_approval != crate::config::RequireApproval::All {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Approval,
            format!(
                "{what} needs a person's approval (agent.require_approval: all), and a creation \
                 cannot be staged for one; nothing was sent"
            ),
        )
        .hinted("--dry-run shows the plan; a person runs it in the interactive shell")
        .hinted("or set agent.require_approval to destructive, which lets scripts create"))
    }

    /// Refuses (exit 6, nothing sent) when any of `actions` needs an approval.
    pub fn check_approval_gate(&self, actions: &[Action]) -> Result<()> {
        let needing: Vec<String> = actions
            .iter()
            .filter(|a| self.needs_approval(a))
            .map(|a| format!("`{}` on {}", a.summary(), a.target.label()))
            .collect();
        if needing.is_empty() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Approval,
            format!(
                "{} change(s) need a person's approval first (agent.require_approval: {}): {}",
                needing.len(),
                self.agent.require_approval.as_str(),
                needing.join(", ")
            ),
        )
        .hinted(
            "nothing was sent and the plan is still pending: ask for an approval with \
             `commit --request-approval` (or run with --request-approval)",
        )
        .hinted("a person then runs `pvesh-plus approve ID` in a terminal"))
    }

    /// Asks for an approval of the whole pending plan; returns the request (id, plan, expiry).
    pub async fn request_approval(&mut self, client: &Client) -> Result<ApprovalRequest> {
        let now = self.clock.now(client).await?;
        let by = who(self.local_user.as_deref(), client.username());
        let ttl = self.agent.approval_ttl;
        self.approvals.create(self.buffer.actions(), &by, now, ttl)
    }

    /// Checks that request `id` may be approved now: the pending plan (read again from its
    /// file) is exactly the requested one, the request has not expired, and every guest's
    /// config digest is still the one it was planned against. Sends nothing.
    pub async fn check_approval(&mut self, client: &Client, id: &str) -> Result<ApprovalRequest> {
        self.buffer.reload()?;
        let request = self.approvals.get(id)?;
        let now = self.clock.now(client).await?;
        verify(&request, self.buffer.actions(), now)?;
        for a in &request.plan {
            let Some(planned) = &a.precondition.digest else {
                continue;
            };
            let cfg = crate::api::endpoints::guest_config(
                a.target.guest_kind,
                &a.target.node,
                a.target.vmid,
            );
            let now_digest = match client.get(&cfg).await {
                Ok(c) => c
                    .get("digest")
                    .and_then(|d| d.as_str())
                    .unwrap_or_default()
                    .to_string(),
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Approval,
                        format!(
                            "cannot re-check {} for approval request {id}: {}",
                            a.target.label(),
                            a.scrub(&e.to_string())
                        ),
                    )
                    .hinted("nothing was sent; check the guest, then approve again"));
                }
            };
            if &now_digest != planned {
                return Err(Error::new(
                    ErrorKind::Approval,
                    format!(
                        "{} changed since approval request {id} was made (its config digest differs): \
                         the plan was made for the guest as it was",
                        a.target.label()
                    ),
                )
                .hinted(format!(
                    "nothing was sent; `reject {id}`, and have the change staged and requested again"
                )));
            }
        }
        Ok(request)
    }

    /// Approves request `id` and commits the plan it binds (after [`Self::check_approval`]).
    /// The request is used up first; one `approval` line per action, and every call line of
    /// the commit, name the request, who asked and `approved_by`.
    pub async fn approve(
        &mut self,
        client: &Client,
        id: &str,
        approved_by: &str,
        live: &std::collections::HashMap<u32, super::LiveGuest>,
        opts: &super::CommitOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(ApprovalRequest, super::CommitReport)> {
        let request = self.check_approval(client, id).await?;
        if self.confirm.peek().is_some() {
            return Err(Error::usage(
                "a confirmed commit is waiting for `confirm`: approve once it is settled",
            )
            .hinted("type `confirm` to keep it, or wait for its rollback; the request stays"));
        }
        let log = std::sync::Arc::new(self.audit.approved(
            &request.id,
            approved_by,
            &request.requested_by,
        ));
        for a in &request.plan {
            log.write(&log.entry("approval", a, None, "approved"))
                .map_err(|e| {
                    Error::new(ErrorKind::Internal, format!("approval not recorded: {e}"))
                        .hinted("nothing was sent: an approval must reach the audit log")
                })?;
        }
        self.approvals.remove(&request.id)?;
        let plain = std::mem::replace(&mut self.audit, log);
        let report = self.commit_plan(client, live, opts, progress, false).await;
        self.audit = plain;
        Ok((request, report?))
    }

    /// Rejects request `id`: it is removed (the plan stays pending) and the audit log records
    /// who rejected it.
    pub fn reject(&mut self, id: &str, rejected_by: &str) -> Result<ApprovalRequest> {
        let request = self.approvals.get(id)?;
        let log = self
            .audit
            .approved(&request.id, rejected_by, &request.requested_by);
        for a in &request.plan {
            log.write(&log.entry("approval", a, None, "rejected"))
                .map_err(|e| {
                    Error::new(ErrorKind::Internal, format!("rejection not recorded: {e}"))
                })?;
        }
        self.approvals.remove(&request.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GuestKind;
    use crate::staging::{Op, Precondition, Target};

    fn stop(vmid: u32, digest: &str) -> Action {
        let target = Target {
            vmid,
            node: "pve1".into(),
            guest_kind: GuestKind::Qemu,
            name: format!("vm{vmid}"),
        };
        Action::new(
            Op::Stop,
            target,
            Precondition {
                digest: Some(digest.into()),
                node: "pve1".into(),
                status: "running".into(),
            },
        )
    }

    #[test]
    fn the_hash_binds_the_plan_not_the_buffer_ids() {
        let mut a = stop(101, "d1");
        let same = plan_hash(std::slice::from_ref(&a));
        a.id = 42;
        assert_eq!(plan_hash(std::slice::from_ref(&a)), same);
        assert_ne!(plan_hash(&[stop(101, "d2")]), same, "digest");
        assert_ne!(plan_hash(&[stop(102, "d1")]), same, "target");
        assert_ne!(plan_hash(&[stop(101, "d1"), stop(102, "d1")]), same, "more");
    }

    #[test]
    fn requests_persist_0600_expire_and_are_used_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s").join("approvals-lab-00000000.json");
        let plan = vec![stop(101, "d1")];
        let mut store = ApprovalStore::open(path.clone());
        let r = store.create(&plan, "bot via root@pam", 1000, 3600).unwrap();
        assert_eq!(r.id.len(), 8);
        assert_eq!(r.expires_at, 4600);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another process sees it; asking again for the same plan gives the same request.
        let mut other = ApprovalStore::open(path.clone());
        assert_eq!(other.get(&r.id).unwrap(), r);
        assert_eq!(other.create(&plan, "bot", 1500, 3600).unwrap().id, r.id);
        verify(&r, &plan, 4599).unwrap();
        let e = verify(&r, &plan, 4600).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Approval);
        assert!(e.message.contains("expired"), "{e}");
        let e = verify(&r, &[stop(101, "d1"), stop(102, "d9")], 2000).unwrap_err();
        assert!(e.message.contains("plan changed"), "{e}");
        // A request edited to show a harmless plan while binding another is refused.
        let mut forged = r.clone();
        forged.plan = vec![stop(102, "d1")];
        let e = verify(&forged, &plan, 2000).unwrap_err();
        assert!(e.message.contains("does not match its own plan"), "{e}");
        other.remove(&r.id).unwrap();
        assert!(!path.exists(), "the last request gone, the file goes");
        let e = store.get(&r.id).unwrap_err();
        assert!(e.message.contains("no approval request"), "{e}");
        assert_eq!(e.exit_code(), crate::error::exit::APPROVAL);
    }

    #[test]
    fn an_empty_plan_cannot_be_requested() {
        let e = ApprovalStore::in_memory()
            .create(&[], "x", 0, 60)
            .unwrap_err();
        assert!(e.message.contains("nothing is pending"), "{e}");
    }
}
