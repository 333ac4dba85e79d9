//! The change log: every write to something a process may cache is
//! recorded, in the write's own transaction, so that every process on the
//! database can drop what it cached (see `crate::domain::changes`).

use super::Result;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};

/// A change that makes some cached copy stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A key, by the hash of its secret.
    Key([u8; 32]),
    /// Roles or permissions changed: any cached key may be stale.
    AllKeys,
    /// A workspace was enabled or disabled.
    Workspace(String),
    /// An access key was renamed or deleted.
    AccessKey(String),
    /// A root key, by its hash, was revoked or lost permissions.
    RootKey([u8; 32]),
    /// The token signing keys were rotated.
    SigningKeys,
    /// An api, by id, was deleted.
    Api(String),
}

/// What [`ChangeFeed::next`] brought.
#[derive(Debug, Default)]
pub struct ChangeBatch {
    pub changes: Vec<Change>,
    /// Changes were lost before this reader saw them (pruned, or sent while
    /// it was disconnected): it must drop everything it cached.
    pub missed: bool,
    /// The [`SyncRequests`] round this batch completes, if it answers one:
    /// it holds every change committed before that round began.
    pub synced: Option<u64>,
    /// The database's commit watermark (see
    /// [`ChangeStore::commit_watermark`]) as this batch's read began: it
    /// holds every change committed before.
    pub watermark: Option<u64>,
}

/// How a reader learns that every change committed before a moment has
/// reached it: it asks the feed to read at once, and waits for the round
/// that began after it asked. Requests made while a read is under way share
/// the next one.
#[derive(Debug)]
pub struct SyncRequests {
    wanted: tokio::sync::Notify,
    /// Rounds begun.
    begun: AtomicU64,
    /// The watermark of the latest batch applied; `u64::MAX` for none.
    applied_watermark: AtomicU64,
    /// The latest round whose changes are applied.
    applied: tokio::sync::watch::Sender<u64>,
}

impl Default for SyncRequests {
    fn default() -> SyncRequests {
        SyncRequests {
            wanted: tokio::sync::Notify::new(),
            begun: AtomicU64::new(0),
            applied_watermark: AtomicU64::new(u64::MAX),
            applied: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl SyncRequests {
    /// Returns once every change committed before this call is applied.
    pub async fn caught_up(&self) {
        // A round numbered above the ones begun now begins after this call.
        let round = self.begun.load(Ordering::SeqCst) + 1;
        let mut applied = self.applied.subscribe();
        self.wanted.notify_one();
        // The sender lives in `self`: this cannot fail.
        let _ = applied.wait_for(|&applied| applied >= round).await;
    }

    /// For a feed: waits for a request, and numbers the round whose read
    /// follows. Cancel-safe.
    pub async fn wanted(&self) -> u64 {
        self.wanted.notified().await;
        self.begun.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether nothing was committed since the read of the latest batch
    /// applied began: `watermark` is the database's now.
    pub fn nothing_committed_since(&self, watermark: Option<u64>) -> bool {
        watermark.is_some_and(|now| now == self.applied_watermark.load(Ordering::SeqCst))
    }

    /// For the feed's reader: `batch` is applied. Its watermark and its
    /// round, if any, now count.
    pub fn applied(&self, batch: &ChangeBatch) {
        if let Some(watermark) = batch.watermark {
            self.applied_watermark.store(watermark, Ordering::SeqCst);
        }
        if let Some(round) = batch.synced {
            self.applied.send_if_modified(|applied| {
                let newer = round > *applied;
                if newer {
                    *applied = round;
                }
                newer
            });
        }
    }
}

/// The changes other processes make, as they come: each backend delivers
/// them its own way (SQLite: a table polled every 50 ms).
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for the next changes. When `sync` wants a round, reads at once
    /// every change committed before, and answers with the round.
    async fn next(&mut self, sync: &SyncRequests) -> Result<ChangeBatch>;
}

#[async_trait]
pub trait ChangeStore {
    /// The changes committed from now on.
    async fn change_feed(&self) -> Result<Box<dyn ChangeFeed>>;

    /// Forgets changes older than `before_ms`, where the backend keeps them.
    async fn prune_changes(&self, before_ms: i64) -> Result<u64>;

    /// A value that changes whenever anyone commits to the database, where
    /// the backend has a cheap one (SQLite's WAL-index header); `None` where
    /// it has not.
    fn commit_watermark(&self) -> Option<u64> {
        None
    }
}

/// A change from its stored form: a kind and an entity (a hash in hex, or
/// an id). A kind this version does not know reads as [`Change::AllKeys`],
/// the safe side.
pub fn change_of(kind: &str, entity: String) -> Change {
    let hash = |hex: &str| {
        let mut hash = [0u8; 32];
        if hex.len() != 64 {
            return None;
        }
        for (i, byte) in hash.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(hash)
    };
    let change = match kind {
        "key" => hash(&entity).map(Change::Key),
        "workspace" => Some(Change::Workspace(entity)),
        "access_key" => Some(Change::AccessKey(entity)),
        "root_key" => hash(&entity).map(Change::RootKey),
        "signing_keys" => Some(Change::SigningKeys),
        "api" => Some(Change::Api(entity)),
        _ => None,
    };
    change.unwrap_or(Change::AllKeys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_back_from_their_rows() {
        let hash = [0xabu8; 32];
        let hex: String = hash.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(change_of("key", hex), Change::Key(hash));
        assert_eq!(change_of("keys", String::new()), Change::AllKeys);
        assert_eq!(
            change_of("workspace", "ws_1".into()),
            Change::Workspace("ws_1".into())
        );
        assert_eq!(change_of("key", "zz".into()), Change::AllKeys);
    }
}
