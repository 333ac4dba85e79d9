//! Verification counts per key and UTC day. The verify path only adds to an
//! in-memory tally; a background task writes it out every 10 seconds, or
//! sooner when it holds [`FLUSH_EARLY_AT`] counters, and shutdown writes the
//! rest. The tally never holds more than [`MAX_PENDING`] counters.

use super::key_cache::CachedKey;
use crate::domain::clock::DAY_MS;
use crate::storage::{CountsDelta, DailyCounts, Storage, StorageError};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Counters written per statement (and transaction): a few milliseconds of
/// the writer at most.
const FLUSH_CHUNK: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    RateLimited,
    UsageExceeded,
}

/// Pending counters past which a flush starts at once. A flush of random
/// keys writes most of the day's pages whatever its size, so fewer, larger
/// flushes write less: 240,000 counters took 1.45 times the log of 80,000.
pub const FLUSH_EARLY_AT: usize = 300_000;
/// Pending counters past which new ones are dropped, until a flush succeeds:
/// a database that stays unwritable must not cost unbounded memory.
pub const MAX_PENDING: usize = 1_000_000;

/// A counted key, by its id. It is the verify path's cached key itself: a
/// new counter costs no copy of the ids (a 40-byte entry, where two
/// `String`s and the counts took 80 bytes plus two heap copies).
#[derive(Clone)]
struct Counted(Arc<CachedKey>);

impl PartialEq for Counted {
    fn eq(&self, other: &Counted) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Counted {}

impl Hash for Counted {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state)
    }
}

impl Borrow<str> for Counted {
    fn borrow(&self) -> &str {
        &self.0.id
    }
}

/// Pending counts by day, then by key: a verify of a key already counted
/// that day allocates nothing. The ids are keyward's own, so a fast hasher
/// will do (SipHash was ~50 ns of a hot verify's ~25 µs in perf).
#[derive(Default)]
struct Pending {
    by_day: FastMap<i64, FastMap<Counted, DailyCounts>>,
    /// Counters held, over all days.
    len: usize,
    /// Counts dropped because the tally was full.
    dropped: u64,
}

#[derive(Default)]
pub struct VerificationCounts {
    pending: Mutex<Pending>,
    flush_wanted: tokio::sync::Notify,
}

impl VerificationCounts {
    pub fn record(&self, key: &Arc<CachedKey>, now: i64, outcome: Outcome) {
        let mut delta = DailyCounts {
            day: now.div_euclid(DAY_MS) * DAY_MS,
            ..Default::default()
        };
        match outcome {
            Outcome::Success => delta.success = 1,
            Outcome::RateLimited => delta.rate_limited = 1,
            Outcome::UsageExceeded => delta.usage_exceeded = 1,
        }
        let len = {
            let mut pending = self.pending();
            add(&mut pending, key, &delta);
            pending.len
        };
        if len >= FLUSH_EARLY_AT {
            self.flush_wanted.notify_one();
        }
    }

    /// Resolves when the tally has grown enough to be written before its time.
    pub async fn flush_wanted(&self) {
        self.flush_wanted.notified().await
    }

    /// Takes the count of counters dropped since the last call.
    pub fn take_dropped(&self) -> u64 {
        std::mem::take(&mut self.pending().dropped)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        match self.pending.lock() {
            Ok(pending) => pending,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Writes out what is pending, in short transactions: the writer is
    /// shared with the verify path's spends, which must not wait behind
    /// thousands of counters. On failure the unwritten counts are put back.
    /// Returns how many rows were written.
    pub async fn flush(&self, storage: &Storage) -> Result<usize, StorageError> {
        let drained = {
            let mut pending = self.pending();
            pending.len = 0;
            std::mem::take(&mut pending.by_day)
        };
        // Sorting 100,000 counters took a runtime worker for 35-50 ms, and
        // freeing them 7-13 ms more: requests queued on that worker waited
        // as long. A blocking thread shares the cores instead.
        let batch = tokio::task::spawn_blocking(move || in_key_order(drained))
            .await
            .map_err(|e| StorageError::Unavailable(format!("ordering counts to write: {e}")))?;
        let mut written = 0;
        while written < batch.len() {
            let chunk = &batch[written..batch.len().min(written + FLUSH_CHUNK)];
            let deltas: Vec<CountsDelta<'_>> = chunk
                .iter()
                .map(|(key, counts)| CountsDelta {
                    key_id: &key.id,
                    workspace_id: &key.workspace_id,
                    counts: counts.clone(),
                })
                .collect();
            if let Err(e) = storage.add_verification_counts(&deltas).await {
                self.put_back(batch.into_iter().skip(written));
                return Err(e);
            }
            written += chunk.len();
        }
        tokio::task::spawn_blocking(move || drop(batch));
        Ok(written)
    }

    /// Returns unwritten counts to the tally, for the next flush.
    fn put_back(&self, counters: impl Iterator<Item = (Arc<CachedKey>, DailyCounts)>) {
        let mut pending = self.pending();
        for (key, counts) in counters {
            add(&mut pending, &key, &counts);
        }
    }
}

/// The drained tally as rows, in key order, so that each chunk updates
/// neighbouring rows: fewer pages to write.
fn in_key_order(
    drained: FastMap<i64, FastMap<Counted, DailyCounts>>,
) -> Vec<(Arc<CachedKey>, DailyCounts)> {
    let mut batch: Vec<(Arc<CachedKey>, DailyCounts)> = drained
        .into_values()
        .flatten()
        .map(|(Counted(key), counts)| (key, counts))
        .collect();
    batch.sort_unstable_by(|(a, a_counts), (b, b_counts)| {
        (&a.id, a_counts.day).cmp(&(&b.id, b_counts.day))
    });
    batch
}

/// Adds `delta` to a key's counts of `delta.day`, unless that needs a new
/// counter and the tally is full. A key already counted that day costs one
/// lookup.
fn add(pending: &mut Pending, key: &Arc<CachedKey>, delta: &DailyCounts) {
    let keys = pending.by_day.entry(delta.day).or_default();
    if let Some(counts) = keys.get_mut(&*key.id) {
        counts.success += delta.success;
        counts.rate_limited += delta.rate_limited;
        counts.usage_exceeded += delta.usage_exceeded;
        return;
    }
    if pending.len >= MAX_PENDING {
        pending.dropped += 1;
        return;
    }
    pending.len += 1;
    keys.insert(Counted(Arc::clone(key)), delta.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Arc<CachedKey> {
        Arc::new(CachedKey {
            id: id.into(),
            workspace_id: Arc::from("ws"),
            api_id: Arc::from("api"),
            enabled: true,
            limited: false,
            expires_at: None,
            ratelimit: None,
            permissions: Box::default(),
            details: None,
        })
    }

    #[test]
    fn counts_add_up_per_key_and_day_and_put_back_merges() {
        let counts = VerificationCounts::default();
        let (k1, k2) = (key("k1"), key("k2"));
        counts.record(&k1, 10, Outcome::Success);
        counts.record(&k1, 20, Outcome::RateLimited);
        counts.record(&k1, DAY_MS + 1, Outcome::UsageExceeded);
        counts.record(&k2, 30, Outcome::Success);
        // A failed flush returns what it took; it adds to what came since.
        let taken = DailyCounts {
            day: 0,
            success: 5,
            ..Default::default()
        };
        counts.put_back(std::iter::once((key("k1"), taken)));
        let pending = counts.pending();
        let day = |day: i64, key: &str| pending.by_day[&day][key].clone();
        assert_eq!(
            day(0, "k1"),
            DailyCounts {
                day: 0,
                success: 6,
                rate_limited: 1,
                usage_exceeded: 0
            }
        );
        assert_eq!(day(DAY_MS, "k1").usage_exceeded, 1);
        assert_eq!(day(0, "k2").success, 1);
        assert_eq!(pending.len, 3);
    }

    #[test]
    fn a_full_tally_drops_new_counters_and_still_adds_to_those_it_holds() {
        let counts = VerificationCounts::default();
        let (k1, k2) = (key("k1"), key("k2"));
        counts.record(&k1, 10, Outcome::Success);
        counts.pending().len = MAX_PENDING;
        counts.record(&k1, 20, Outcome::Success);
        counts.record(&k2, 30, Outcome::Success);
        // Another day is another counter.
        counts.record(&k1, DAY_MS, Outcome::Success);
        assert_eq!(counts.take_dropped(), 2);
        let pending = counts.pending();
        assert_eq!(pending.by_day[&0]["k1"].success, 2);
        assert!(!pending.by_day[&0].contains_key("k2"));
        assert!(pending.by_day.get(&DAY_MS).is_none_or(HashMap::is_empty));
        assert_eq!(pending.len, MAX_PENDING);
    }

    #[test]
    fn a_counter_is_a_pointer_and_its_counts() {
        assert_eq!(std::mem::size_of::<(Counted, DailyCounts)>(), 40);
    }

    #[test]
    fn a_flush_batch_is_in_key_then_day_order() {
        let counts = VerificationCounts::default();
        for (id, now) in [("k2", DAY_MS), ("k1", DAY_MS), ("k2", 0), ("k1", 0)] {
            counts.record(&key(id), now, Outcome::Success);
        }
        let drained = std::mem::take(&mut counts.pending().by_day);
        let order: Vec<(String, i64)> = in_key_order(drained)
            .iter()
            .map(|(key, counts)| (key.id.to_string(), counts.day))
            .collect();
        let expected = [("k1", 0), ("k1", DAY_MS), ("k2", 0), ("k2", DAY_MS)];
        assert_eq!(order, expected.map(|(id, day)| (id.to_string(), day)));
    }
}
