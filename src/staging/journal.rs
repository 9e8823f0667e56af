//! The commit journal: an append-only file next to the pending buffer that says, per staged
//! action (by its id), that its request is being sent, that it was sent (with its UPID), or that
//! it is done. A session that dies in the middle of a commit leaves the buffer and this journal;
//! the next start reads both and knows, for every action, whether it is done (dropped from the
//! plan), in flight (followed to its end by its UPID, never sent again), possibly sent (being
//! sent when the process died: never sent again automatically) or not started (still pending).
//!
//! Each line is written with one `write` call and no buffering, so it survives the death of the
//! process (`kill -9`) as soon as the call returns; it is not synced to the disk (a power cut
//! may lose the last lines). Lines hold ids and UPIDs only: never parameters or secrets.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What the journal says of one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flight {
    /// Its request was sent and started this task.
    Sent(String),
    /// Its request was being sent: it may or may not have reached the server.
    Unknown,
}

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    id: u64,
    /// `sending`, `sent` or `done`.
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upid: Option<String>,
}

/// The journal file and what was read from it at start.
#[derive(Debug, Default)]
pub struct Journal {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
    /// The last state of each action, as read at start and updated as lines are written.
    states: Mutex<HashMap<u64, State>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Sending,
    Sent(String),
    Done,
}

impl Journal {
    /// A journal that records nothing on disk (in-memory buffers, tests).
    pub fn in_memory() -> Journal {
        Journal::default()
    }

    /// Opens the journal at `path`, reading what an earlier session left there.
    pub fn open(path: PathBuf) -> Journal {
        let mut states = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            // A torn last line (the process died inside a write) is ignored.
            for line in text.lines() {
                let Ok(l) = serde_json::from_str::<Line>(line) else {
                    continue;
                };
                let state = match (l.state.as_str(), l.upid) {
                    ("sending", _) => State::Sending,
                    ("sent", Some(u)) => State::Sent(u),
                    ("done", _) => State::Done,
                    _ => continue,
                };
                states.insert(l.id, state);
            }
        }
        Journal {
            path: Some(path),
            file: Mutex::new(None),
            states: Mutex::new(states),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the last session left action `id` in flight.
    pub fn flight(&self, id: u64) -> Option<Flight> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        match states.get(&id)? {
            State::Sending => Some(Flight::Unknown),
            State::Sent(u) => Some(Flight::Sent(u.clone())),
            State::Done => None,
        }
    }

    /// True when action `id` finished (its outcome is known).
    pub fn is_done(&self, id: u64) -> bool {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.get(&id) == Some(&State::Done)
    }

    pub fn sending(&self, id: u64) {
        self.record(id, State::Sending);
    }

    pub fn sent(&self, id: u64, upid: &str) {
        self.record(id, State::Sent(upid.to_string()));
    }

    pub fn done(&self, id: u64) {
        self.record(id, State::Done);
    }

    fn record(&self, id: u64, state: State) {
        let line = Line {
            id,
            state: match &state {
                State::Sending => "sending",
                State::Sent(_) => "sent",
                State::Done => "done",
            }
            .to_string(),
            upid: match &state {
                State::Sent(u) => Some(u.clone()),
                _ => None,
            },
        };
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, state);
        let Some(path) = &self.path else {
            return;
        };
        let Ok(mut text) = serde_json::to_string(&line) else {
            return;
        };
        text.push('\n');
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let mut options = OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            *guard = options.open(path).ok();
        }
        if let Some(f) = guard.as_mut() {
            // Best effort: a journal that cannot be written leaves the plan as it was (every
            // action pending), which the commit's precondition checks make safe to re-run.
            let _ = f.write_all(text.as_bytes());
        }
    }

    /// Forgets everything (after the buffer was rewritten without the finished actions).
    pub fn clear(&self) {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.file.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_journal_reads_what_the_old_one_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal-demo.jsonl");
        let j = Journal::open(path.clone());
        j.sending(1);
        j.sent(1, "UPID:pve1:1");
        j.sending(2);
        j.sending(3);
        j.done(3);
        drop(j);
        // A torn line at the end is ignored.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"id\":4,\"sta").unwrap();
        let again = Journal::open(path.clone());
        assert_eq!(again.flight(1), Some(Flight::Sent("UPID:pve1:1".into())));
        assert_eq!(again.flight(2), Some(Flight::Unknown));
        assert_eq!(again.flight(3), None);
        assert!(again.is_done(3));
        assert_eq!(again.flight(4), None);
        again.clear();
        assert!(!path.exists());
        assert_eq!(Journal::open(path).flight(1), None);
    }
}
