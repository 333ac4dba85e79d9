//! An in-process cache in front of storage. Every write to a cached record
//! invalidates it at once; a load that raced with a write is not cached (see
//! [`Cache::generation`]). When full, an arbitrary entry makes room: the
//! cache is a shortcut, never the truth.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub struct Cache<K, V> {
    entries: RwLock<HashMap<K, Arc<V>>>,
    /// Bumped by every invalidation, so that a load that started before one
    /// does not cache what it read.
    generation: AtomicU64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Cache<K, V> {
    pub fn new(capacity: usize) -> Cache<K, V> {
        Cache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            capacity,
        }
    }

    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        self.entries.read().ok()?.get(key).cloned()
    }

    /// The generation to pass to [`Cache::insert`]; read it before loading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a value loaded while the cache was at `generation`, unless an
    /// invalidation came since.
    pub fn insert(&self, key: K, value: Arc<V>, generation: u64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= self.capacity
            && let Some(evicted) = entries.keys().next().cloned()
        {
            entries.remove(&evicted);
        }
        entries.insert(key, value);
    }

    /// Drops `keys`, and keeps loads already under way from caching.
    pub fn invalidate(&self, keys: impl IntoIterator<Item = K>) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            for key in keys {
                entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_that_raced_with_an_invalidation_is_not_cached() {
        let cache = Cache::new(2);
        let before = cache.generation();
        cache.invalidate(["k"]);
        cache.insert("k", Arc::new(1), before);
        assert!(cache.get(&"k").is_none());
        cache.insert("k", Arc::new(2), cache.generation());
        assert_eq!(cache.get(&"k").as_deref(), Some(&2));
        cache.insert("a", Arc::new(3), cache.generation());
        cache.insert("b", Arc::new(4), cache.generation());
        assert_eq!(cache.entries.read().unwrap().len(), 2, "capacity holds");
    }
}
