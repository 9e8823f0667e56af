//! History that never stores a secret.
//!
//! A thin wrapper over reedline's file-backed history that refuses to save a line carrying a
//! secret (`password=`, `cipassword=`, token secrets ...). Password and TOTP prompts never go
//! through the line editor at all, so they cannot reach history either.

use std::path::PathBuf;

use reedline::{
    FileBackedHistory, History, HistoryItem, HistoryItemId, HistorySessionId, SearchQuery,
};

const HISTORY_SIZE: usize = 10_000;

pub use crate::secret::is_secret_line;

pub struct SecretFreeHistory {
    inner: FileBackedHistory,
}

impl SecretFreeHistory {
    pub fn open(path: PathBuf) -> reedline::Result<SecretFreeHistory> {
        Ok(SecretFreeHistory {
            inner: FileBackedHistory::with_file(HISTORY_SIZE, path)?,
        })
    }
}

impl History for SecretFreeHistory {
    fn save(&mut self, h: HistoryItem) -> reedline::Result<HistoryItem> {
        if is_secret_line(&h.command_line) {
            // Not saved; hand the item back as if it were, so the editor carries on.
            return Ok(h);
        }
        self.inner.save(h)
    }

    fn load(&self, id: HistoryItemId) -> reedline::Result<HistoryItem> {
        self.inner.load(id)
    }

    fn count(&self, query: SearchQuery) -> reedline::Result<i64> {
        self.inner.count(query)
    }

    fn search(&self, query: SearchQuery) -> reedline::Result<Vec<HistoryItem>> {
        self.inner.search(query)
    }

    fn update(
        &mut self,
        id: HistoryItemId,
        updater: &dyn Fn(HistoryItem) -> HistoryItem,
    ) -> reedline::Result<()> {
        self.inner.update(id, updater)
    }

    fn clear(&mut self) -> reedline::Result<()> {
        self.inner.clear()
    }

    fn delete(&mut self, h: HistoryItemId) -> reedline::Result<()> {
        self.inner.delete(h)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }

    fn session(&self) -> Option<HistorySessionId> {
        self.inner.session()
    }
}
