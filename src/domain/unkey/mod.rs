//! The Unkey side of keyward: apis, keys, verification and rate limits.
//!
//! [`Unkey`] holds what outlives a request: storage, the clock, the key
//! cache, the in-process limiters and the pending verification counts. Its
//! methods are the operations; each checks the root key's permission, then
//! works through storage.

pub mod analytics;
pub mod apis;
pub mod auth;
pub mod error;
pub mod key_cache;
pub mod key_index;
pub mod keys;
pub mod permissions;
pub mod prehashed;
pub mod ratelimit;
pub mod verify;

pub use auth::RootKey;
pub use error::{Error, Result};

use crate::domain::cache::Cache;
use crate::domain::clock::{Clock, DAY_MS};
use crate::metrics::UnkeyMetrics;
use crate::storage::{Change, RefillBoundaries, Storage};
use chrono::{Datelike, TimeZone, Utc};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How many keys the verify cache holds at most, unless configured.
pub const DEFAULT_KEY_CACHE_CAPACITY: usize = 1_000_000;
/// Keys per page when the key index loads.
const INDEX_PAGE: u32 = 10_000;
const ROOT_KEY_CACHE_CAPACITY: usize = 10_000;
const NAMESPACE_CACHE_CAPACITY: usize = 10_000;
const API_CACHE_CAPACITY: usize = 10_000;
/// How often verification counts are written. Readers never wait for it
/// (getVerifications flushes first, and so does shutdown); a longer period
/// folds more counts into each page written. Under verifies of many distinct
/// keys, each count is an update of a random page of the counts table, so a
/// one-second period wrote most pages every second.
const COUNTS_FLUSH_SECS: u64 = 10;
/// How often windows that ended are deleted from a shared database.
const SHARED_WINDOWS_PRUNE_SECS: u64 = 60;
/// How many `ratelimits.limit` windows (and per-key buckets) are kept at
/// most, unless configured: about 170 bytes each, so about 85 MB.
pub const DEFAULT_MAX_RATELIMIT_ENTRIES: usize = 500_000;

pub struct Unkey {
    storage: Storage,
    clock: Arc<dyn Clock>,
    cache: key_cache::KeyCache,
    /// Which keys exist; see [`key_index`].
    index: key_index::KeyIndex,
    /// Rounds of the change watcher: a key that the index does not know
    /// may have been created through another process a moment ago.
    change_sync: Arc<crate::storage::SyncRequests>,
    buckets: ratelimit::TokenBuckets,
    windows: ratelimit::FixedWindows,
    counts: analytics::VerificationCounts,
    /// Workspaces are disabled by the CLI, in another process: this set is
    /// read again whenever the change log says one changed.
    disabled_workspaces: RwLock<HashSet<String>>,
    /// Namespace ids by (workspace, name); namespaces are never deleted.
    namespaces: Cache<(String, String), String>,
    /// Live apis by id. Deleting one invalidates it, here at once and in
    /// other processes through the change log.
    apis: Cache<String, crate::storage::ApiRow>,
    /// Root keys by hash. Revoking one invalidates it through the change
    /// log; their workspace's state is in `disabled_workspaces`.
    root_keys: Cache<[u8; 32], RootKey>,
    /// Root key uses (id, minute) not yet written.
    root_key_uses: std::sync::Mutex<Vec<(String, i64)>>,
    metrics: UnkeyMetrics,
}

impl std::fmt::Debug for Unkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unkey")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl Unkey {
    /// `key_cache_capacity` caps the keys cached for verification;
    /// `max_ratelimit_entries` caps the limiters' state (see
    /// [`ratelimit::FixedWindows::new`]).
    pub async fn new(
        storage: Storage,
        clock: Arc<dyn Clock>,
        key_cache_capacity: usize,
        max_ratelimit_entries: usize,
        metrics: UnkeyMetrics,
    ) -> Result<Unkey> {
        let unkey = Unkey {
            storage,
            clock,
            cache: key_cache::KeyCache::new(key_cache_capacity, metrics.key_cache.clone()),
            index: key_index::KeyIndex::default(),
            change_sync: Arc::default(),
            buckets: ratelimit::TokenBuckets::new(max_ratelimit_entries),
            windows: ratelimit::FixedWindows::new(max_ratelimit_entries),
            counts: analytics::VerificationCounts::default(),
            disabled_workspaces: RwLock::new(HashSet::new()),
            namespaces: Cache::new(NAMESPACE_CACHE_CAPACITY, metrics.namespace_cache.clone()),
            apis: Cache::new(API_CACHE_CAPACITY, metrics.api_cache.clone()),
            root_keys: Cache::new(ROOT_KEY_CACHE_CAPACITY, metrics.root_key_cache.clone()),
            root_key_uses: std::sync::Mutex::default(),
            metrics,
        };
        unkey.refresh_disabled_workspaces().await?;
        Ok(unkey)
    }

    /// Once a second: forgets limiter state that no longer matters. Every
    /// [`COUNTS_FLUSH_SECS`], or as soon as the tally is large: writes out
    /// verification counts.
    pub fn spawn_background(self: &Arc<Self>, log: slog::Logger) -> tokio::task::JoinHandle<()> {
        let unkey = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut second = 0u64;
            loop {
                let flush_now = tokio::select! {
                    _ = tick.tick() => {
                        second += 1;
                        second.is_multiple_of(COUNTS_FLUSH_SECS)
                    }
                    () = unkey.counts.flush_wanted() => true,
                };
                if flush_now && let Err(e) = unkey.flush().await {
                    slog::warn!(log, "writing verification counts failed; will retry"; "error" => %e);
                }
                let dropped = unkey.counts.take_dropped();
                if dropped > 0 {
                    slog::warn!(log, "verification counts dropped: too many pending while the database could not take them";
                        "dropped" => dropped);
                }
                unkey.report_index_size();
                let now = unkey.clock.now_ms();
                unkey.buckets.sweep(now);
                unkey.windows.sweep(now);
                if second.is_multiple_of(SHARED_WINDOWS_PRUNE_SECS)
                    && let Some(shared) = unkey.storage.shared_limits()
                    && let Err(e) = shared.prune_windows(now).await
                {
                    slog::warn!(log, "pruning rate-limit windows failed"; "error" => %e);
                }
            }
        })
    }

    /// Loads the key index, and the key cache while it has room, from every
    /// live key; again after each reset of the index. Start it after the
    /// change feed is subscribed (see [`key_index`]).
    pub fn spawn_index_loader(self: &Arc<Self>, log: slog::Logger) -> tokio::task::JoinHandle<()> {
        let unkey = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let started = std::time::Instant::now();
                let load = unkey.index.current_load();
                match unkey.load_index(load).await {
                    Ok(IndexLoad::Complete) => {
                        let keys = unkey.report_index_size();
                        slog::info!(log, "key index loaded"; "keys" => keys,
                            "ms" => started.elapsed().as_millis());
                    }
                    Ok(IndexLoad::TooLarge) => {
                        slog::warn!(log, "more keys than the key index takes: verifies of unknown keys read the database";
                            "max" => key_index::MAX_INDEXED_KEYS);
                    }
                    // A reset came during the load: load again.
                    Ok(IndexLoad::Interrupted) => continue,
                    Err(e) => {
                        slog::warn!(log, "loading the key index failed; will retry"; "error" => %e);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
                unkey.index.reset_since(load).await;
            }
        })
    }

    /// The change watcher's sync rounds (see [`crate::domain::changes`]).
    pub fn change_sync(&self) -> Arc<crate::storage::SyncRequests> {
        Arc::clone(&self.change_sync)
    }

    /// How many keys the key index holds, and whether it is complete.
    pub fn key_index_size(&self) -> (usize, bool) {
        self.index.size()
    }

    /// Sets the key index's gauges; returns how many keys it holds.
    fn report_index_size(&self) -> usize {
        let (keys, complete) = self.index.size();
        self.metrics
            .key_index_keys
            .set(i64::try_from(keys).unwrap_or(i64::MAX));
        self.metrics.key_index_complete.set(i64::from(complete));
        keys
    }

    /// One load of the index, and of the key cache while it has room.
    async fn load_index(&self, load: u64) -> Result<IndexLoad> {
        let mut after = Vec::new();
        let mut interner = key_cache::Interner::default();
        loop {
            let generation = self.cache.generation();
            let page = self.storage.live_keys_after(&after, INDEX_PAGE).await?;
            self.index.add_all(
                page.iter()
                    .filter_map(|(hash, _)| hash.as_slice().try_into().ok()),
            );
            let full_page = page.len() == INDEX_PAGE as usize;
            if let Some((last, _)) = page.last() {
                after.clone_from(last);
            }
            for (hash, row) in page {
                if !self.cache.has_room() {
                    break;
                }
                if let Some(hash) = key_cache::hash_key(&hash) {
                    let key = key_cache::CachedKey::of_row(row, |id| interner.intern(id));
                    self.cache.insert(hash, Arc::new(key), generation);
                }
            }
            if self.index.current_load() != load {
                return Ok(IndexLoad::Interrupted);
            }
            if self.index.size().0 > key_index::MAX_INDEXED_KEYS {
                self.index.abandon(load);
                return Ok(IndexLoad::TooLarge);
            }
            if !full_page {
                return Ok(if self.index.complete(load) {
                    IndexLoad::Complete
                } else {
                    IndexLoad::Interrupted
                });
            }
        }
    }

    /// Writes out what is pending: verification counts, and when root keys
    /// were last used (lost if this fails: it is coarse anyway).
    pub async fn flush(&self) -> Result<()> {
        let uses = self
            .root_key_uses
            .lock()
            .map(|mut uses| std::mem::take(&mut *uses))
            .unwrap_or_default();
        self.storage.record_root_key_use(&uses).await?;
        let started = std::time::Instant::now();
        let rows = self.counts.flush(&self.storage).await?;
        self.metrics
            .flush_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics.flushed_rows.inc_by(rows as u64);
        Ok(())
    }

    /// Drops what a change made stale (see [`crate::domain::changes`]).
    pub async fn apply_change(&self, change: &Change) -> Result<()> {
        match change {
            Change::Key(hash) => {
                // A creation, too: the key may exist now.
                self.index.add(hash);
                self.cache.invalidate([*hash]);
            }
            Change::AllKeys => self.cache.clear(),
            Change::RootKey(hash) => self.root_keys.invalidate([*hash]),
            Change::Api(id) => self.apis.invalidate([id.clone()]),
            Change::Workspace(_) => self.refresh_disabled_workspaces().await?,
            Change::AccessKey(_) | Change::SigningKeys => {}
        }
        Ok(())
    }

    /// Drops every cached key and root key, and re-reads disabled
    /// workspaces: for a process that missed changes.
    pub async fn forget_everything(&self) -> Result<()> {
        self.index.reset();
        self.cache.clear();
        self.root_keys.clear();
        self.apis.clear();
        self.refresh_disabled_workspaces().await
    }

    async fn refresh_disabled_workspaces(&self) -> Result<()> {
        let disabled: HashSet<String> = self
            .storage
            .disabled_workspaces()
            .await?
            .into_iter()
            .collect();
        // A fresh read makes a poisoned set whole again.
        match self.disabled_workspaces.write() {
            Ok(mut set) => *set = disabled,
            Err(poisoned) => {
                *poisoned.into_inner() = disabled;
                self.disabled_workspaces.clear_poison();
            }
        }
        Ok(())
    }

    /// Whether the workspace is disabled. This check guards access, so it
    /// fails closed: when the set cannot be read (a panic poisoned its lock),
    /// the request fails with a server error, logged with this cause, until
    /// the set is read again.
    fn workspace_disabled(&self, workspace_id: &str) -> Result<bool> {
        match self.disabled_workspaces.read() {
            Ok(set) => Ok(set.contains(workspace_id)),
            Err(_) => Err(Error::Storage(crate::storage::StorageError::Unavailable(
                "the set of disabled workspaces is unreadable (a panic poisoned its lock); \
                 refusing until it is read again"
                    .into(),
            ))),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// How a load of the key index ended.
enum IndexLoad {
    Complete,
    /// A reset came meanwhile.
    Interrupted,
    /// More keys than [`key_index::MAX_INDEXED_KEYS`].
    TooLarge,
}

/// The latest UTC midnight and the latest 1st of a month, 00:00 UTC.
pub fn refill_boundaries(now_ms: i64) -> RefillBoundaries {
    let day_start = now_ms.div_euclid(DAY_MS) * DAY_MS;
    let month_start = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .and_then(|now| {
            Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
                .single()
        })
        .map_or(day_start, |start| start.timestamp_millis());
    RefillBoundaries {
        day_start,
        month_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_poisoned_disabled_set_fails_closed_until_it_is_read_again() {
        let (_dir, storage) = Storage::scratch().await;
        let clock = Arc::new(crate::domain::clock::ManualClock::new(0));
        let unkey = Unkey::new(storage.clone(), clock, 100, 100, UnkeyMetrics::default())
            .await
            .expect("unkey");
        assert!(matches!(unkey.workspace_disabled("ws_1"), Ok(false)));
        // A panic while the set is being written poisons its lock.
        let poisoned = std::thread::scope(|s| {
            s.spawn(|| {
                let _writing = unkey.disabled_workspaces.write();
                panic!("a panic while writing the set");
            })
            .join()
        });
        assert!(poisoned.is_err());
        assert!(
            matches!(unkey.workspace_disabled("ws_1"), Err(Error::Storage(_))),
            "an unreadable set refuses, never allows"
        );
        unkey.refresh_disabled_workspaces().await.expect("refresh");
        assert!(matches!(unkey.workspace_disabled("ws_1"), Ok(false)));
        storage.close().await;
    }

    #[test]
    fn refill_boundaries_are_utc_midnights() {
        // 2026-03-15T13:45:00Z
        let b = super::refill_boundaries(1_773_582_300_000);
        assert_eq!(b.day_start, 1_773_532_800_000); // 2026-03-15T00:00:00Z
        assert_eq!(b.month_start, 1_772_323_200_000); // 2026-03-01T00:00:00Z
    }
}
