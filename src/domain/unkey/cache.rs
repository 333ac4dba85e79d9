//! The verify path's key cache: what verifying a key needs, by the hash of
//! the key. Every write to a key invalidates it at once; a load that raced
//! with a write is not cached (see [`KeyCache::generation`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// What verification needs of a key. `remaining` is not here: it changes on
/// every use, so limited keys always go to storage for it.
#[derive(Debug)]
pub struct CachedKey {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub name: Option<String>,
    pub owner_id: Option<String>,
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub environment: Option<String>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// Whether the key has a usage limit.
    pub limited: bool,
    pub ratelimit: Option<BucketConfig>,
    /// Effective permissions: direct and through roles.
    pub permissions: Vec<String>,
}

/// A per-key token bucket: `limit` tokens at most, `refill_rate` more every
/// `refill_interval_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketConfig {
    pub limit: i64,
    pub refill_rate: i64,
    pub refill_interval_ms: i64,
}

type Hash = [u8; 32];

pub struct KeyCache {
    entries: RwLock<HashMap<Hash, Arc<CachedKey>>>,
    /// Bumped by every invalidation, so that a load that started before one
    /// does not cache what it read.
    generation: AtomicU64,
    capacity: usize,
}

impl KeyCache {
    pub fn new(capacity: usize) -> KeyCache {
        KeyCache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            capacity,
        }
    }

    pub fn get(&self, hash: &Hash) -> Option<Arc<CachedKey>> {
        self.entries.read().ok()?.get(hash).cloned()
    }

    /// The generation to pass to [`KeyCache::insert`]; read it before loading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a key loaded while the cache was at `generation`, unless an
    /// invalidation came since.
    pub fn insert(&self, hash: Hash, key: Arc<CachedKey>, generation: u64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= self.capacity {
            // Any entry will do: the cache is a shortcut, not the truth.
            if let Some(evicted) = entries.keys().next().copied() {
                entries.remove(&evicted);
            }
        }
        entries.insert(hash, key);
    }

    pub fn invalidate(&self, hash: &[u8]) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            if let Ok(hash) = Hash::try_from(hash) {
                entries.remove(&hash);
            }
        }
    }

    pub fn invalidate_all(&self, hashes: &[Vec<u8>]) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            for hash in hashes {
                if let Ok(hash) = Hash::try_from(hash.as_slice()) {
                    entries.remove(&hash);
                }
            }
        }
    }
}
