//! An in-process cache in front of storage. Every write to a cached record
//! invalidates it at once; a load that raced with a write is not cached (see
//! [`Cache::generation`]). Eviction is quick_cache's (S3-FIFO-like: keys that
//! are hit again stay, one-off keys leave first): the cache is a shortcut,
//! never the truth.

use crate::metrics::CacheStats;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Cache<K, V> {
    entries: quick_cache::sync::Cache<K, Arc<V>>,
    stats: CacheStats,
    /// Bumped by every invalidation, so that a load that started before one
    /// does not stay cached.
    generation: AtomicU64,
}

impl<K: Hash + Eq + Clone, V> Cache<K, V> {
    /// Counts its hits and misses in `stats`.
    pub fn new(capacity: usize, stats: CacheStats) -> Cache<K, V> {
        Cache {
            entries: quick_cache::sync::Cache::new(capacity),
            stats,
            generation: AtomicU64::new(0),
        }
    }

    /// The cached value, looked up by anything that compares equal to a
    /// key (a `&str` for a `String` key, with no allocation).
    #[cfg(test)]
    fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized,
    {
        self.entries.get(key)
    }

    /// The cached value for `key`, or else what `load` finds, cached unless
    /// an invalidation came while it loaded. Nothing found is not cached.
    /// `load` is a future, so it starts only after the generation is read.
    pub async fn get_or_load<Q, E>(
        &self,
        key: &Q,
        load: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<Arc<V>>, E>
    where
        Q: Hash + quick_cache::Equivalent<K> + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(value) = self.entries.get(key) {
            self.stats.hit();
            return Ok(Some(value));
        }
        self.stats.miss();
        let generation = self.generation();
        let Some(value) = load.await? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        self.insert(key.to_owned(), Arc::clone(&value), generation);
        Ok(Some(value))
    }

    /// The generation to pass to [`Cache::insert`]; read it before loading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a value loaded while the cache was at `generation`, unless an
    /// invalidation came since. The check comes after the insert: an
    /// invalidation either removes the entry itself or has already bumped the
    /// generation, which the check then sees.
    pub fn insert(&self, key: K, value: Arc<V>, generation: u64) {
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        self.entries.insert(key.clone(), value);
        if self.generation.load(Ordering::SeqCst) != generation {
            self.entries.remove(&key);
        }
    }

    /// Whether the cache holds fewer than `capacity` entries: room to fill
    /// ahead of use without evicting what is there.
    pub fn has_room(&self) -> bool {
        self.entries.len() < self.entries.capacity() as usize
    }

    /// Drops everything, and keeps loads already under way from caching.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    /// Drops `keys`, and keeps loads already under way from caching.
    pub fn invalidate(&self, keys: impl IntoIterator<Item = K>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for key in keys {
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_load_that_raced_with_an_invalidation_is_not_cached() {
        let cache: Cache<String, i32> = Cache::new(100, CacheStats::default());
        let raced = async {
            // A write to the record lands while it is being loaded.
            cache.invalidate(["k".to_string()]);
            Ok::<_, ()>(Some(1))
        };
        let loaded = cache.get_or_load("k", raced).await;
        assert_eq!(
            loaded.ok().flatten().as_deref(),
            Some(&1),
            "the caller gets its load"
        );
        assert!(cache.get("k").is_none(), "but it is not cached");

        let fresh = async { Ok::<_, ()>(Some(2)) };
        cache.get_or_load("k", fresh).await.ok();
        assert_eq!(cache.get("k").as_deref(), Some(&2));
        let not_found = async { Ok::<_, ()>(None) };
        assert!(matches!(
            cache.get_or_load("gone", not_found).await,
            Ok(None)
        ));
        assert!(cache.get("gone").is_none(), "nothing found is not cached");
    }

    #[test]
    fn capacity_holds() {
        let cache = Cache::new(100, CacheStats::default());
        for i in 0..1000 {
            cache.insert(i, Arc::new(i), cache.generation());
        }
        assert!(cache.entries.len() <= 100, "{}", cache.entries.len());
    }
}
