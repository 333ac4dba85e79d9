//! In-process rate limiting, exact on one node: per-key token buckets for
//! verifyKey, and epoch-aligned fixed windows for `ratelimits.limit`.

use super::prehashed::BuildPrehashed;
use super::{Error, Result, RootKey, Unkey};
use crate::domain::ids::new_id;
use crate::storage::{BucketRow, KeyRatelimit};
use sha2::Digest;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

/// Shards keep unrelated keys from contending on one lock.
const SHARDS: usize = 64;

/// Limiter state by key, in shards, holding at most a given number of
/// entries: past it, the oldest entry of the shard is evicted.
struct Sharded<K, V, S = RandomState> {
    shards: Vec<Mutex<Shard<K, V, S>>>,
    hasher: S,
    per_shard: usize,
}

/// One shard: entries with their insertion number, and the insertion order.
/// The order may list entries that are gone (swept, or inserted again); an
/// entry is evicted only when its number matches.
struct Shard<K, V, S> {
    entries: HashMap<K, (u64, V), S>,
    order: VecDeque<(K, u64)>,
    inserted: u64,
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher> Shard<K, V, S> {
    fn evict_oldest(&mut self) {
        while let Some((key, number)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|(n, _)| *n == number) {
                self.entries.remove(&key);
                return;
            }
        }
    }

    /// Drops order records of entries that are gone, once they outnumber
    /// the entries.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.entries.len() + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(key, number)| entries.get(key).is_some_and(|(n, _)| n == number));
        }
    }
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher + Default> Sharded<K, V, S> {
    /// At most `capacity` entries in all.
    fn new(capacity: usize) -> Self {
        let shard = || {
            Mutex::new(Shard {
                entries: HashMap::with_hasher(S::default()),
                order: VecDeque::new(),
                inserted: 0,
            })
        };
        Sharded {
            shards: (0..SHARDS).map(|_| shard()).collect(),
            hasher: S::default(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> std::sync::MutexGuard<'_, Shard<K, V, S>> {
        // Bits a shard's map does not use: it indexes by the low bits and
        // tags by the top 7.
        let shard = (self.hasher.hash_one(key) >> 32) as usize % SHARDS;
        match self.shards[shard].lock() {
            Ok(shard) => shard,
            // A panic while holding the lock cannot leave a counter half-written.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `f` on the state at `key`, which `fresh` makes when there is
    /// none or when `stale` says the one there no longer applies. A key in
    /// use is looked up once, and not copied.
    fn update<Q, R>(
        &self,
        key: &Q,
        fresh: impl Fn() -> V,
        stale: impl FnOnce(&V) -> bool,
        f: impl FnOnce(&mut V) -> R,
    ) -> R
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut shard = self.shard(key);
        if let Some((_, state)) = shard.entries.get_mut(key) {
            if stale(state) {
                *state = fresh();
            }
            return f(state);
        }
        if shard.entries.len() >= self.per_shard {
            shard.evict_oldest();
        }
        shard.inserted += 1;
        let number = shard.inserted;
        shard.order.push_back((key.to_owned(), number));
        let (_, state) = shard
            .entries
            .entry(key.to_owned())
            .insert_entry((number, fresh()))
            .into_mut();
        f(state)
    }

    fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.entries.retain(|_, (_, v)| keep(v));
                shard.compact();
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.entries.len()))
            .sum()
    }
}

/// The answer of a limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: i64,
    /// What is left after this request.
    pub remaining: i64,
    /// Unix ms of the next refill (bucket) or the window's end.
    pub reset: i64,
}

pub struct TokenBuckets {
    buckets: Sharded<String, BucketRow>,
}

/// A full bucket of this configuration.
pub fn full_bucket(config: KeyRatelimit, now: i64) -> BucketRow {
    BucketRow {
        limit: config.limit,
        refill_rate: config.refill_rate,
        refill_interval: config.refill_interval,
        tokens: config.limit,
        last_refill: now,
    }
}

/// Refills `bucket` for the intervals since its last refill, then takes one
/// token if it holds one. A bucket made with another configuration starts
/// full. Returns whether a token was taken.
/// Takes `cost` tokens, or none when fewer are left: a cost above the
/// bucket's capacity is never allowed.
pub fn take_tokens(bucket: &mut BucketRow, config: KeyRatelimit, cost: i64, now: i64) -> bool {
    if (bucket.limit, bucket.refill_rate, bucket.refill_interval)
        != (config.limit, config.refill_rate, config.refill_interval)
    {
        *bucket = full_bucket(config, now);
    }
    let interval = config.refill_interval.max(1);
    let refills = (now - bucket.last_refill).max(0) / interval;
    if refills > 0 {
        bucket.tokens =
            (bucket.tokens + refills.saturating_mul(config.refill_rate)).min(config.limit);
        bucket.last_refill += refills * interval;
    }
    let allowed = bucket.tokens >= cost;
    if allowed {
        bucket.tokens -= cost;
    }
    allowed
}

/// What a bucket answers after [`take_tokens`].
pub fn bucket_decision(bucket: &BucketRow, allowed: bool) -> Decision {
    Decision {
        allowed,
        limit: bucket.limit,
        remaining: bucket.tokens,
        reset: bucket.last_refill + bucket.refill_interval.max(1),
    }
}

impl TokenBuckets {
    /// At most `capacity` buckets; there is one per rate-limited key in use.
    pub fn new(capacity: usize) -> TokenBuckets {
        TokenBuckets {
            buckets: Sharded::new(capacity),
        }
    }

    /// Takes `cost` tokens from the key's bucket, kept in this process.
    pub fn take(&self, key_id: &str, config: KeyRatelimit, cost: i64, now: i64) -> Decision {
        self.buckets.update(
            key_id,
            || full_bucket(config, now),
            |_| false,
            |bucket| {
                let allowed = take_tokens(bucket, config, cost, now);
                bucket_decision(bucket, allowed)
            },
        )
    }

    /// Drops full buckets, which are the same as no bucket.
    pub fn sweep(&self, now: i64) {
        self.buckets.retain(|b| {
            let refills = (now - b.last_refill).max(0) / b.refill_interval.max(1);
            b.tokens + refills.saturating_mul(b.refill_rate) < b.limit
        });
    }
}

struct Window {
    limit: i64,
    duration: i64,
    window: i64,
    used: i64,
}

/// Fixed windows by a 128-bit keyed hash of (namespace id, identifier):
/// identifiers are chosen by callers, at any length, so the counters do not
/// keep them. The hash keys are random per process, so no caller can aim
/// for a collision.
pub struct FixedWindows {
    windows: Sharded<u128, Window, BuildPrehashed>,
    id_hashers: [RandomState; 2],
}

impl FixedWindows {
    /// At most `capacity` windows; past it the oldest are evicted (and an
    /// evicted identifier starts a fresh window).
    pub fn new(capacity: usize) -> FixedWindows {
        FixedWindows {
            windows: Sharded::new(capacity),
            id_hashers: [RandomState::new(), RandomState::new()],
        }
    }

    fn id(&self, namespace_id: &str, identifier: &str, local: bool) -> u128 {
        let [high, low] = &self.id_hashers;
        let pair = (namespace_id, identifier, local);
        (u128::from(high.hash_one(pair)) << 64) | u128::from(low.hash_one(pair))
    }

    /// Counts `request.cost` against its identifier in `namespace_id` for
    /// the current window of `request.duration` ms, aligned to the epoch. A
    /// denied request does not count; another limit or duration, or another
    /// `async`, is another counter.
    pub fn limit(&self, namespace_id: &str, request: &LimitRequest, now: i64) -> Decision {
        let LimitRequest {
            limit,
            duration,
            cost,
            ..
        } = *request;
        let duration = duration.max(1);
        let window = now.div_euclid(duration);
        let key = self.id(namespace_id, &request.identifier, request.local);
        let fresh = || Window {
            limit,
            duration,
            window,
            used: 0,
        };
        // Another window, or another limit or duration, is a fresh counter.
        let stale = |state: &Window| {
            state.window != window || state.limit != limit || state.duration != duration
        };
        self.windows.update(&key, fresh, stale, |state| {
            let allowed = state.used + cost <= limit;
            if allowed {
                state.used += cost;
            }
            Decision {
                allowed,
                limit,
                remaining: (limit - state.used).max(0),
                reset: (window + 1) * duration,
            }
        })
    }

    /// Drops windows that have ended.
    pub fn sweep(&self, now: i64) {
        self.windows
            .retain(|w| now.div_euclid(w.duration.max(1)) == w.window);
    }
}

/// What `ratelimits.limit` asks for.
#[derive(Debug, Clone)]
pub struct LimitRequest {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: i64,
    /// `async`: may be decided by this node alone.
    pub local: bool,
}

pub const MIN_DURATION_MS: i64 = 1000;

impl Unkey {
    /// `ratelimits.limit`: one fixed-window decision. On a database that
    /// several nodes share, a request that is not `async` is counted in the
    /// database, the same window for every node; otherwise in this process.
    pub async fn ratelimit(&self, root: &RootKey, request: &LimitRequest) -> Result<Decision> {
        if request.duration < MIN_DURATION_MS {
            return Err(Error::Invalid(format!(
                "duration: must be at least {MIN_DURATION_MS} ms"
            )));
        }
        let namespace_id = self.namespace_id(root, &request.namespace).await?;
        root.require_on("ratelimit", &namespace_id, "limit")?;
        let decision = self.limit_in_namespace(&namespace_id, request).await?;
        self.metrics
            .ratelimit_decided("namespace", decision.allowed);
        Ok(decision)
    }

    /// Counts a request against its window: in this process, or in a
    /// database that several nodes share.
    async fn limit_in_namespace(
        &self,
        namespace_id: &str,
        request: &LimitRequest,
    ) -> Result<Decision> {
        let now = self.now();
        let Some(shared) = self.storage.shared_limits().filter(|_| !request.local) else {
            return Ok(self.windows.limit(namespace_id, request, now));
        };
        let window = now.div_euclid(request.duration);
        let reset = (window + 1) * request.duration;
        // Another limit or duration is another counter, as in memory.
        let counter = sha2::Sha256::new()
            .chain_update(namespace_id.as_bytes())
            .chain_update([0])
            .chain_update(request.identifier.as_bytes())
            .chain_update([0])
            .chain_update(request.limit.to_be_bytes())
            .chain_update(request.duration.to_be_bytes())
            .finalize();
        let count = shared
            .count_in_window(&counter, window, request.limit, request.cost, reset)
            .await?;
        Ok(Decision {
            allowed: count.allowed,
            limit: request.limit,
            remaining: (request.limit - count.used).max(0),
            reset,
        })
    }

    /// Resolves a namespace by name, creating it when the root key may.
    pub(super) async fn namespace_id(&self, root: &RootKey, name: &str) -> Result<String> {
        let cache_key = (root.workspace_id.clone(), name.to_string());
        let load = async {
            match self
                .storage
                .find_ratelimit_namespace(&root.workspace_id, name)
                .await?
            {
                Some(id) => Ok(Some(id)),
                None if root.has("*") || root.has("ratelimit.*.create_namespace") => {
                    let now = self.now();
                    let id = self
                        .storage
                        .create_ratelimit_namespace(
                            &new_id("rlns", now),
                            &root.workspace_id,
                            name,
                            now,
                        )
                        .await?;
                    Ok(Some(id))
                }
                None => Ok(None),
            }
        };
        match self
            .namespaces
            .get_or_load::<_, Error>(&cache_key, load)
            .await?
        {
            Some(id) => Ok(String::clone(&id)),
            None => Err(Error::NotFound(format!("namespace {name} not found"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::RatelimitKind;

    fn request(identifier: &str, limit: i64, duration: i64, cost: i64) -> LimitRequest {
        LimitRequest {
            namespace: "ns".into(),
            identifier: identifier.into(),
            limit,
            duration,
            cost,
            local: false,
        }
    }

    const CONFIG: KeyRatelimit = KeyRatelimit {
        kind: RatelimitKind::Fast,
        limit: 3,
        refill_rate: 2,
        refill_interval: 1000,
    };

    #[test]
    fn a_bucket_empties_then_refills_by_rate_up_to_its_limit() {
        let buckets = TokenBuckets::new(100);
        let taken: Vec<_> = (0..4)
            .map(|_| buckets.take("k", CONFIG, 1, 10_000))
            .collect();
        assert_eq!(
            taken.iter().map(|d| d.allowed).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(
            taken.iter().map(|d| d.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert_eq!(taken[3].reset, 11_000);
        // One interval later: 2 tokens.
        assert!(buckets.take("k", CONFIG, 1, 11_000).allowed);
        assert!(buckets.take("k", CONFIG, 1, 11_500).allowed);
        assert!(!buckets.take("k", CONFIG, 1, 11_999).allowed);
        // Long idle: capped at the limit.
        let later = buckets.take("k", CONFIG, 1, 60_000);
        assert_eq!((later.allowed, later.remaining), (true, 2));
    }

    #[test]
    fn windows_align_to_the_epoch_and_denials_do_not_count() {
        let windows = FixedWindows::new(1000);
        let first = windows.limit("ns", &request("user", 10, 60_000, 8), 61_000);
        assert_eq!(
            (first.allowed, first.remaining, first.reset),
            (true, 2, 120_000)
        );
        let denied = windows.limit("ns", &request("user", 10, 60_000, 5), 62_000);
        assert_eq!((denied.allowed, denied.remaining), (false, 2));
        assert!(
            windows
                .limit("ns", &request("user", 10, 60_000, 2), 63_000)
                .allowed
        );
        assert!(
            windows
                .limit("ns", &request("user", 10, 60_000, 1), 120_000)
                .allowed,
            "a new window"
        );
        assert!(
            windows
                .limit("ns", &request("other", 10, 60_000, 10), 63_000)
                .allowed,
            "identifiers are apart"
        );
    }

    #[test]
    fn windows_are_capped_and_the_oldest_go_first() {
        let windows = FixedWindows::new(SHARDS * 10);
        for i in 0..10_000 {
            windows.limit("ns", &request(&format!("id-{i}"), 1, 60_000, 1), 1_000);
        }
        assert!(
            windows.windows.len() <= SHARDS * 10,
            "{}",
            windows.windows.len()
        );
        // The newest identifier is still counted; the first one was evicted
        // and starts afresh.
        assert!(
            !windows
                .limit("ns", &request("id-9999", 1, 60_000, 1), 1_000)
                .allowed
        );
        assert!(
            windows
                .limit("ns", &request("id-0", 1, 60_000, 1), 1_000)
                .allowed
        );
        windows.sweep(60_000);
        assert_eq!(windows.windows.len(), 0, "ended windows are dropped");
    }
}
