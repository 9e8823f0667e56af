//! The pending buffer: the ordered list of staged actions, saved to disk on every change.
//!
//! A buffer belongs to one cluster ([`ClusterIdentity`]): its file is
//! `$XDG_STATE_HOME/pvesh-plus/pending-<cluster>-<id>.json` (else `~/.local/state/...`), where
//! `<id>` is a hash of what tells the cluster apart from another of the same name (its
//! endpoints), so a plan staged on one cluster is never restored into another. A buffer of
//! another cluster of the same name (or one saved by an earlier version, which did not record
//! its cluster) is not restored: [`PendingBuffer::foreign`] lists it, for the notice at start.
//! A `--demo` run's buffer lives in memory only: its simulated cluster ends with the process.
//!
//! The file is written to a temporary file in the same directory and renamed over the
//! old one, so a crash (even `kill -9`) leaves either the old or the new plan, never half of one.
//! Next to it, the commit [`Journal`] says which actions a commit had sent when its process
//! died; opening the buffer reads it, drops the actions that finished and keeps the others with
//! what is known of them. This module does no API calls and never prints.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::action::Action;
use super::journal::{Flight, Journal};
use crate::error::{Error, ErrorKind, Result};

/// The on-disk form, versioned so a later format can tell an old file apart.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    version: u32,
    cluster: String,
    /// What tells the cluster apart ([`ClusterIdentity::Cluster`]'s `id`); absent in files of
    /// earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    actions: Vec<Action>,
}

/// 2: typed actions with ids (1 had text-keyed parameters; it is converted when read).
const VERSION: u32 = 2;

impl Saved {
    /// Reads the current format, or format 1 converted to it.
    fn parse(text: &str) -> std::result::Result<Saved, String> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if v.version == 1 {
            return v1::parse(text);
        }
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// Format 1: an action was a `kind` word with text parameters.
mod v1 {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::Saved;
    use crate::staging::action::{Action, ActionKind, ConfigChange, Op, Precondition, Target};

    #[derive(Deserialize)]
    struct OldSaved {
        cluster: String,
        actions: Vec<OldAction>,
    }

    #[derive(Deserialize)]
    struct OldRaw {
        method: String,
        path: String,
    }

    #[derive(Deserialize)]
    struct OldAction {
        kind: String,
        target: Target,
        #[serde(default)]
        params: BTreeMap<String, String>,
        precondition: Precondition,
        #[serde(default)]
        destructive_reason: Option<String>,
        #[serde(default)]
        before: BTreeMap<String, String>,
        #[serde(default)]
        effect: BTreeMap<String, String>,
        #[serde(default)]
        raw: Option<OldRaw>,
    }

    pub(super) fn parse(text: &str) -> std::result::Result<Saved, String> {
        let old: OldSaved = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let actions = old
            .actions
            .into_iter()
            .map(convert)
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Saved {
            version: super::VERSION,
            cluster: old.cluster,
            identity: None,
            actions,
        })
    }

    fn convert(a: OldAction) -> std::result::Result<Action, String> {
        let p = |k: &str| a.params.get(k).cloned();
        let yes = |k: &str| a.params.get(k).map(String::as_str) == Some("1");
        let name = || p("snapname").ok_or_else(|| format!("a {} without snapname", a.kind));
        let change = || ConfigChange {
            changes: a.params.clone(),
            before: a.before.clone(),
            effect: a.effect.clone(),
            risk: a.destructive_reason.clone(),
        };
        let kind = ActionKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == a.kind)
            .ok_or_else(|| format!("unknown action kind '{}'", a.kind))?;
        let op = match kind {
            ActionKind::Shutdown => Op::Shutdown {
                timeout: p("timeout").and_then(|t| t.parse().ok()),
                force_stop: yes("force-stop"),
            },
            ActionKind::Destroy => Op::Destroy {
                purge: yes("purge"),
                unreferenced_disks: false,
            },
            ActionKind::Snapshot => Op::Snapshot {
                name: name()?,
                vmstate: yes("vmstate"),
                description: p("description"),
            },
            ActionKind::Rollback => Op::Rollback {
                name: name()?,
                start: yes("start"),
            },
            ActionKind::Delsnapshot => Op::Delsnapshot { name: name()? },
            ActionKind::Set => Op::Set(change()),
            ActionKind::Tag => Op::Tag(change()),
            ActionKind::Template => Op::Template,
            ActionKind::Raw => {
                let raw = a
                    .raw
                    .as_ref()
                    .ok_or("a raw action without method and path")?;
                Op::Raw {
                    method: raw.method.clone(),
                    path: raw.path.clone(),
                    params: a.params.clone(),
                }
            }
            other => Op::power(other)
                .ok_or_else(|| format!("'{}' was not an action of format 1", a.kind))?,
        };
        Ok(Action::new(op, a.target, a.precondition))
    }
}

/// Which cluster a session's pending changes (and confirm window) belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterIdentity {
    /// A real cluster: `name` as the user knows it (the config's cluster name, or the host),
    /// and `id`, what tells it apart from another cluster of that name (its endpoints).
    Cluster { name: String, id: String },
    /// One `--demo` run: a new simulated cluster that ends with the process, and its pending
    /// changes with it.
    DemoRun,
}

impl ClusterIdentity {
    /// A real cluster known by `name` and reached at `endpoints` (`host:port`, in the config's
    /// order: a failover to another of them is still the same cluster).
    pub fn cluster(name: &str, endpoints: &[String]) -> ClusterIdentity {
        ClusterIdentity::Cluster {
            name: name.to_string(),
            id: format!("{name} at {}", endpoints.join(", ")),
        }
    }

    /// The file-safe key of its state files: `<name>-<8 hex digits of the id's SHA-256>`.
    fn key(&self) -> Option<String> {
        use sha2::Digest;
        match self {
            ClusterIdentity::Cluster { name, id } => {
                let hash = sha2::Sha256::digest(id.as_bytes());
                Some(format!("{}-{}", file_safe(name), hex::encode(&hash[..4])))
            }
            ClusterIdentity::DemoRun => None,
        }
    }

    /// `$XDG_STATE_HOME/pvesh-plus/<what>-<key>.json` (`confirm-homelab-1a2b3c4d.json`);
    /// `None` for a demo run (its state lives in memory) or without a state directory.
    pub fn state_file(&self, what: &str) -> Option<PathBuf> {
        state_file(what, &self.key()?)
    }
}

/// A saved pending buffer that is not restored because it belongs to another cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    pub path: PathBuf,
    /// How many changes it holds.
    pub changes: usize,
    /// Whose it is (`homelab at 10.0.0.5:8006`); `None` when an earlier version saved it.
    pub identity: Option<String>,
    /// It was removed: an earlier `--demo` run's, whose simulated cluster is gone.
    pub removed: bool,
}

/// The staged actions, in the order they will run.
#[derive(Debug, Default)]
pub struct PendingBuffer {
    actions: Vec<Action>,
    cluster: String,
    /// Whose plan it is (written into the file).
    identity: Option<String>,
    /// Where it is saved; `None` keeps it in memory only.
    path: Option<PathBuf>,
    journal: Arc<Journal>,
    /// Saved buffers of other clusters of the same name, found when it was opened.
    foreign: Vec<Foreign>,
}

/// `$XDG_STATE_HOME/pvesh-plus/pending-<cluster>.json`, with the cluster name made file-safe:
/// where versions before cluster identities kept a cluster's buffer.
pub fn default_path(cluster: &str) -> Option<PathBuf> {
    state_file("pending", cluster)
}

/// `$XDG_STATE_HOME/pvesh-plus/<what>-<cluster>.json` (`confirm-demo.json`).
pub fn state_file(what: &str, cluster: &str) -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("state")))?;
    Some(
        state
            .join("pvesh-plus")
            .join(format!("{what}-{}.json", file_safe(cluster))),
    )
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An earlier version saved the demo's buffer as `pending-demo.json` and restored it into the
/// next demo run, a new cluster: such a file is removed (with its journal) and reported.
fn remove_old_demo_buffer() -> Vec<Foreign> {
    let Some(path) = default_path("demo") else {
        return Vec::new();
    };
    let Some(saved) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| Saved::parse(&text).ok())
    else {
        return Vec::new();
    };
    let removed = std::fs::remove_file(&path).is_ok();
    let _ = std::fs::remove_file(path.with_extension("journal"));
    if saved.actions.is_empty() {
        return Vec::new();
    }
    vec![Foreign {
        path,
        changes: saved.actions.len(),
        identity: None,
        removed,
    }]
}

/// The saved buffers next to `ours` that belong to a cluster named `name` but not to ours:
/// `pending-<name>-<8 hex>.json` of another identity, and `pending-<name>.json` of an earlier
/// version. Empty ones and unreadable ones are left out.
fn foreign_buffers(name: &str, ours: &Path) -> Vec<Foreign> {
    let Some(dir) = ours.parent() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let stem = format!("pending-{}", file_safe(name));
    let is_hash = |h: &str| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit());
    let mut out: Vec<Foreign> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p != ours)
        .filter(|p| {
            let Some(file) = p.file_name().and_then(|f| f.to_str()) else {
                return false;
            };
            match file
                .strip_suffix(".json")
                .and_then(|f| f.strip_prefix(&stem))
            {
                Some("") => true,
                Some(rest) => rest.strip_prefix('-').is_some_and(is_hash),
                None => false,
            }
        })
        .filter_map(|path| {
            let saved = Saved::parse(&std::fs::read_to_string(&path).ok()?).ok()?;
            (!saved.actions.is_empty()).then_some(Foreign {
                path,
                changes: saved.actions.len(),
                identity: saved.identity,
                removed: false,
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

impl PendingBuffer {
    /// A buffer that lives in memory only (tests, and when no state directory is known).
    pub fn in_memory(cluster: &str) -> PendingBuffer {
        PendingBuffer {
            actions: Vec::new(),
            cluster: cluster.to_string(),
            identity: None,
            path: None,
            journal: Arc::new(Journal::in_memory()),
            foreign: Vec::new(),
        }
    }

    /// The buffer of `identity`: a real cluster's is restored from its own file (buffers of
    /// other clusters of that name are listed in [`PendingBuffer::foreign`], not restored); a
    /// demo run's starts empty, in memory.
    pub fn for_cluster(identity: &ClusterIdentity) -> Result<PendingBuffer> {
        let ClusterIdentity::Cluster { name, id } = identity else {
            let mut buffer = PendingBuffer::in_memory("demo");
            buffer.foreign = remove_old_demo_buffer();
            return Ok(buffer);
        };
        let Some(path) = identity.state_file("pending") else {
            return Ok(PendingBuffer::in_memory(name));
        };
        let foreign = foreign_buffers(name, &path);
        let mut buffer = PendingBuffer::open_as(name, Some(id.clone()), path)?;
        buffer.foreign = foreign;
        Ok(buffer)
    }

    /// Saved buffers of other clusters of the same name, which were not restored.
    pub fn foreign(&self) -> &[Foreign] {
        &self.foreign
    }

    /// Opens the buffer saved at `path`, or an empty one if there is no file yet.
    pub fn open(cluster: &str, path: PathBuf) -> Result<PendingBuffer> {
        PendingBuffer::open_as(cluster, None, path)
    }

    fn open_as(cluster: &str, identity: Option<String>, path: PathBuf) -> Result<PendingBuffer> {
        let actions = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let saved: Saved = Saved::parse(&text).map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!(
                            "the pending changes in {} cannot be read: {e}",
                            path.display()
                        ),
                    )
                    .hinted("move the file away to start with an empty plan")
                })?;
                if saved.version != VERSION {
                    return Err(other_format(
                        &path,
                        saved.version,
                        "move the file away to start with an empty plan",
                    ));
                }
                saved.actions
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        };
        let journal = Journal::open(path.with_extension("journal"));
        let before = actions.len();
        let actions: Vec<Action> = actions
            .into_iter()
            .filter(|a| !journal.is_done(a.id))
            .collect();
        let mut buffer = PendingBuffer {
            actions,
            cluster: cluster.to_string(),
            identity,
            path: Some(path),
            journal: Arc::new(journal),
            foreign: Vec::new(),
        };
        // Actions converted from format 1 have no journal id yet.
        let unnumbered = buffer.actions.iter().any(|a| a.id == 0);
        for i in 0..buffer.actions.len() {
            if buffer.actions[i].id == 0 {
                buffer.actions[i].id = buffer.fresh_id();
            }
        }
        if buffer.actions.len() != before || unnumbered {
            // Actions a dead session finished: the plan is saved without them.
            buffer.save()?;
        }
        Ok(buffer)
    }

    /// The commit journal of this buffer.
    pub fn journal(&self) -> Arc<Journal> {
        Arc::clone(&self.journal)
    }

    /// The actions (1-based position, action, what is known) that an earlier session was
    /// sending or had sent when it stopped.
    pub fn in_flight(&self) -> Vec<(usize, &Action, Flight)> {
        self.actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| self.journal.flight(a.id).map(|f| (i + 1, a, f)))
            .collect()
    }

    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends actions, giving each a fresh journal id, and saves. Outside this module actions
    /// are staged through [`super::StagingState::stage`], which checks the read-only rule.
    pub(super) fn push(&mut self, actions: Vec<Action>) -> Result<()> {
        for mut a in actions {
            a.id = self.fresh_id();
            self.actions.push(a);
        }
        self.save()
    }

    /// A journal id no action in the buffer has (random, so an old journal line never matches).
    fn fresh_id(&self) -> u64 {
        loop {
            let id: u64 = rand::random();
            if id != 0 && !self.actions.iter().any(|b| b.id == id) {
                return id;
            }
        }
    }

    /// After a commit: the plan becomes `left` (the actions that did not start, with their
    /// ids), and the journal, whose every line is now settled, is cleared.
    pub fn settle(&mut self, left: Vec<Action>) -> Result<()> {
        self.actions = left;
        self.save()?;
        self.journal.clear();
        Ok(())
    }

    /// Removes the actions at the given 1-based positions (all of them when empty), saves, and
    /// returns what was removed.
    pub fn discard(&mut self, positions: &[usize]) -> Result<Vec<Action>> {
        if let Some(bad) = positions
            .iter()
            .find(|&&p| p == 0 || p > self.actions.len())
        {
            return Err(Error::usage(format!(
                "there is no pending change {bad} (there are {})",
                self.actions.len()
            ))
            .hinted("`pending` lists them with their numbers"));
        }
        let removed = if positions.is_empty() {
            std::mem::take(&mut self.actions)
        } else {
            let mut kept = Vec::new();
            let mut removed = Vec::new();
            for (i, a) in std::mem::take(&mut self.actions).into_iter().enumerate() {
                if positions.contains(&(i + 1)) {
                    removed.push(a);
                } else {
                    kept.push(a);
                }
            }
            self.actions = kept;
            removed
        };
        self.save()?;
        Ok(removed)
    }

    /// Writes the buffer: a temporary file in the same directory, flushed, then renamed. An empty
    /// buffer removes the file.
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let fail = |what: &str, e: std::io::Error| {
            Error::new(
                ErrorKind::Internal,
                format!(
                    "cannot save the pending changes ({what} {}): {e}",
                    path.display()
                ),
            )
            .hinted("check that the state directory is writable (XDG_STATE_HOME)")
        };
        if self.actions.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail("remove", e)),
                _ => Ok(()),
            };
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail("create the directory of", e))?;
        }
        let saved = Saved {
            version: VERSION,
            cluster: self.cluster.clone(),
            identity: self.identity.clone(),
            actions: self.actions.clone(),
        };
        let text = serde_json::to_string_pretty(&saved)
            .map_err(|e| Error::internal(format!("cannot encode the pending changes: {e}")))?;
        // Owner-only: a raw write may carry a secret (`cipassword=...`) until it is committed.
        write_private(path, &text).map_err(|(what, e)| fail(what, e))
    }

    /// Reads the plan again from its file, which another process (an agent's run) may have
    /// changed since this one opened it. A buffer in memory stays as it is.
    pub fn reload(&mut self) -> Result<()> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let foreign = std::mem::take(&mut self.foreign);
        *self = PendingBuffer::open_as(&self.cluster, self.identity.clone(), path)?;
        self.foreign = foreign;
        Ok(())
    }
}

/// A state file written by another version of pvesh+ (its `format` is not this one's).
pub(super) fn other_format(path: &Path, format: u32, hint: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "{} was written by another version of pvesh+ (format {format})",
            path.display()
        ),
    )
    .hinted(hint)
}

/// Writes `text` to `path` atomically (a temporary file in the same directory, synced, then
/// renamed over it), readable by the owner only (0600). The error says which step failed.
pub(crate) fn write_private(
    path: &Path,
    text: &str,
) -> std::result::Result<(), (&'static str, std::io::Error)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ("create the directory of", e))?;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("json");
    let tmp = path.with_extension(format!("{ext}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|e| ("create", e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| ("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| ("rename onto", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GuestKind;
    use crate::staging::{Op, Precondition, Target};

    fn stop(vmid: u32) -> Action {
        Action::new(
            Op::Stop,
            Target {
                vmid,
                node: "pve1".into(),
                guest_kind: GuestKind::Qemu,
                name: format!("vm{vmid}"),
            },
            Precondition {
                digest: None,
                node: "pve1".into(),
                status: "running".into(),
            },
        )
    }

    #[test]
    fn saves_restores_and_removes_the_file_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("pending-demo.json");
        let mut b = PendingBuffer::open("demo", path.clone()).unwrap();
        #[cfg(unix)]
        let check_mode = |p: &std::path::Path| {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        };
        b.push(vec![stop(101), stop(102), stop(103)]).unwrap();
        #[cfg(unix)]
        check_mode(&path);
        let again = PendingBuffer::open("demo", path.clone()).unwrap();
        assert_eq!(again.actions(), b.actions());
        let removed = b.discard(&[2]).unwrap();
        assert_eq!(removed[0].target.vmid, 102);
        let vmids: Vec<u32> = PendingBuffer::open("demo", path.clone())
            .unwrap()
            .actions()
            .iter()
            .map(|a| a.target.vmid)
            .collect();
        assert_eq!(vmids, vec![101, 103]);
        b.settle(Vec::new()).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_reopened_buffer_knows_what_a_dead_commit_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pending-demo.json");
        let mut b = PendingBuffer::open("demo", path.clone()).unwrap();
        b.push(vec![stop(101), stop(102), stop(103)]).unwrap();
        let ids: Vec<u64> = b.actions().iter().map(|a| a.id).collect();
        assert!(ids.iter().all(|id| *id != 0));
        let j = b.journal();
        j.sending(ids[0]);
        j.sent(
            ids[0],
            "UPID:pve1:0000AAAA:00000001:695B1000:qmstop:101:root@pam:",
        );
        j.sending(ids[1]);
        j.done(ids[1]);
        drop(b);
        let again = PendingBuffer::open("demo", path.clone()).unwrap();
        let vmids: Vec<u32> = again.actions().iter().map(|a| a.target.vmid).collect();
        assert_eq!(vmids, [101, 103], "the finished one is dropped");
        let flying: Vec<(usize, u32)> = again
            .in_flight()
            .iter()
            .map(|(n, a, _)| (*n, a.target.vmid))
            .collect();
        assert_eq!(flying, [(1, 101)]);
        drop(again);
        let third = PendingBuffer::open("demo", path).unwrap();
        assert_eq!(third.len(), 2, "the dropped action stays dropped");
    }

    #[test]
    fn a_format_1_buffer_is_converted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pending-demo.json");
        let target = r#"{"vmid":101,"node":"pve1","guest_kind":"qemu","name":"web01"}"#;
        let pre = r#"{"digest":"d1","node":"pve1","status":"running"}"#;
        let text = format!(
            r#"{{"version":1,"cluster":"demo","actions":[
              {{"kind":"shutdown","target":{target},"params":{{"timeout":"60","force-stop":"1"}},"precondition":{pre}}},
              {{"kind":"set","target":{target},"params":{{"cores":"1"}},"precondition":{pre},
                "destructive_reason":"fewer cores","before":{{"cores":"4"}},"effect":{{"cores":"pending until reboot"}}}},
              {{"kind":"raw","target":{target},"params":{{"description":"x"}},"precondition":{pre},
                "raw":{{"method":"PUT","path":"/nodes/pve1/qemu/101/config"}}}}
            ]}}"#
        );
        std::fs::write(&path, text).unwrap();
        let b = PendingBuffer::open("demo", path).unwrap();
        let summaries: Vec<String> = b.actions().iter().map(Action::summary).collect();
        assert_eq!(
            summaries,
            [
                "shutdown --force-stop --timeout 60",
                "set cores=1",
                "PUT /nodes/pve1/qemu/101/config description=x"
            ]
        );
        assert_eq!(b.actions()[1].risk().as_deref(), Some("fewer cores"));
        assert!(
            b.actions().iter().all(|a| a.id != 0),
            "numbered for the journal"
        );
    }

    #[test]
    fn discard_rejects_bad_positions() {
        let mut b = PendingBuffer::in_memory("demo");
        b.push(vec![stop(101)]).unwrap();
        for bad in [0, 2] {
            let e = b.discard(&[bad]).unwrap_err();
            assert!(e.message.contains("no pending change"), "{e}");
        }
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pending-x.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = PendingBuffer::open("x", path).unwrap_err();
        assert!(e.message.contains("cannot be read"), "{e}");
    }

    #[test]
    fn a_buffer_is_keyed_by_its_clusters_identity() {
        let a = ClusterIdentity::cluster("lab", &["10.0.0.5:8006".into()]);
        let b = ClusterIdentity::cluster("lab", &["10.0.9.9:8006".into()]);
        let (ka, kb) = (a.key().unwrap(), b.key().unwrap());
        assert_ne!(ka, kb);
        assert!(
            ka.starts_with("lab-") && ka.len() == "lab-".len() + 8,
            "{ka}"
        );
        assert_eq!(ka, a.clone().key().unwrap(), "stable");
        assert_eq!(ClusterIdentity::DemoRun.state_file("pending"), None);
    }

    #[test]
    fn buffers_of_other_clusters_of_the_same_name_are_found_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name);
        let ours = file("pending-lab-0000aaaa.json");
        let mut theirs = PendingBuffer::open_as(
            "lab",
            Some("lab at 10.0.9.9:8006".into()),
            file("pending-lab-1111bbbb.json"),
        )
        .unwrap();
        theirs.push(vec![stop(101), stop(102)]).unwrap();
        let mut old = PendingBuffer::open("lab", file("pending-lab.json")).unwrap();
        old.push(vec![stop(103)]).unwrap();
        // Another cluster's name that starts the same, and an empty buffer: not listed.
        let mut lab2 = PendingBuffer::open("lab2", file("pending-lab2-2222cccc.json")).unwrap();
        lab2.push(vec![stop(104)]).unwrap();
        std::fs::write(file("pending-lab-3333dddd.json"), "{}").unwrap();
        let found = foreign_buffers("lab", &ours);
        let summary: Vec<(String, usize, Option<String>)> = found
            .iter()
            .map(|f| {
                let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
                (name, f.changes, f.identity.clone())
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "pending-lab-1111bbbb.json".to_string(),
                    2,
                    Some("lab at 10.0.9.9:8006".to_string())
                ),
                ("pending-lab.json".to_string(), 1, None),
            ]
        );
        let mine = PendingBuffer::open_as("lab", Some("lab at 10.0.0.5:8006".into()), ours);
        assert!(mine.unwrap().is_empty(), "nothing of theirs is restored");
    }

    #[test]
    fn cluster_names_are_made_file_safe() {
        let p = default_path("a/b c").unwrap();
        assert!(
            p.ends_with("pvesh-plus/pending-a_b_c.json"),
            "{}",
            p.display()
        );
    }
}
