//! Verification counts per key and UTC day. The verify path only adds to an
//! in-memory tally; a background task writes it out every 10 seconds, or
//! sooner when it holds [`FLUSH_EARLY_AT`] counters, and shutdown writes the
//! rest. The tally never holds more than [`MAX_PENDING`] counters.

use crate::domain::clock::DAY_MS;
use crate::storage::{CountsDelta, DailyCounts, Storage, StorageError};
use std::collections::HashMap;
use std::sync::Mutex;

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

/// Pending counters past which a flush starts at once.
pub const FLUSH_EARLY_AT: usize = 100_000;
/// Pending counters past which new ones are dropped, until a flush succeeds:
/// a database that stays unwritable must not cost unbounded memory.
pub const MAX_PENDING: usize = 1_000_000;

/// Pending counts by day, then by key id (with the key's workspace): a
/// verify of a key already counted that day allocates nothing. The ids are
/// keyward's own, so a fast hasher will do (SipHash was ~2% of a verify).
#[derive(Default)]
struct Pending {
    by_day: FastMap<i64, FastMap<String, (String, DailyCounts)>>,
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
    pub fn record(&self, workspace_id: &str, key_id: &str, now: i64, outcome: Outcome) {
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
            add(&mut pending, workspace_id, key_id, &delta);
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
        let mut batch: Vec<CountsDelta> = drained
            .into_values()
            .flatten()
            .map(|(key_id, (workspace_id, counts))| CountsDelta {
                key_id,
                workspace_id,
                counts,
            })
            .collect();
        // In key order, so that each chunk updates neighbouring rows: fewer
        // pages to write.
        batch.sort_unstable_by(|a, b| (&a.key_id, a.counts.day).cmp(&(&b.key_id, b.counts.day)));
        let mut written = 0;
        while written < batch.len() {
            let chunk = &batch[written..batch.len().min(written + FLUSH_CHUNK)];
            if let Err(e) = storage.add_verification_counts(chunk).await {
                self.put_back(batch.into_iter().skip(written));
                return Err(e);
            }
            written += chunk.len();
        }
        Ok(written)
    }

    /// Returns unwritten counts to the tally, for the next flush.
    fn put_back(&self, deltas: impl Iterator<Item = CountsDelta>) {
        let mut pending = self.pending();
        for delta in deltas {
            add(
                &mut pending,
                &delta.workspace_id,
                &delta.key_id,
                &delta.counts,
            );
        }
    }
}

/// Adds `delta` to a key's counts of `delta.day`, unless that needs a new
/// counter and the tally is full. A key already counted that day costs one
/// lookup.
fn add(pending: &mut Pending, workspace_id: &str, key_id: &str, delta: &DailyCounts) {
    let keys = pending.by_day.entry(delta.day).or_default();
    if let Some((_, counts)) = keys.get_mut(key_id) {
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
    keys.insert(
        key_id.to_string(),
        (workspace_id.to_string(), delta.clone()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_key_and_day_and_put_back_merges() {
        let counts = VerificationCounts::default();
        counts.record("ws", "k1", 10, Outcome::Success);
        counts.record("ws", "k1", 20, Outcome::RateLimited);
        counts.record("ws", "k1", DAY_MS + 1, Outcome::UsageExceeded);
        counts.record("ws", "k2", 30, Outcome::Success);
        // A failed flush returns what it took; it adds to what came since.
        counts.put_back(std::iter::once(CountsDelta {
            key_id: "k1".into(),
            workspace_id: "ws".into(),
            counts: DailyCounts {
                day: 0,
                success: 5,
                ..Default::default()
            },
        }));
        let pending = counts.pending();
        let day = |day: i64, key: &str| pending.by_day[&day][key].1.clone();
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
        assert_eq!(pending.by_day[&0]["k2"].0, "ws");
        assert_eq!(pending.len, 3);
    }

    #[test]
    fn a_full_tally_drops_new_counters_and_still_adds_to_those_it_holds() {
        let counts = VerificationCounts::default();
        counts.record("ws", "k1", 10, Outcome::Success);
        counts.pending().len = MAX_PENDING;
        counts.record("ws", "k1", 20, Outcome::Success);
        counts.record("ws", "k2", 30, Outcome::Success);
        // Another day is another counter.
        counts.record("ws", "k1", DAY_MS, Outcome::Success);
        assert_eq!(counts.take_dropped(), 2);
        let pending = counts.pending();
        assert_eq!(pending.by_day[&0]["k1"].1.success, 2);
        assert!(!pending.by_day[&0].contains_key("k2"));
        assert!(pending.by_day.get(&DAY_MS).is_none_or(HashMap::is_empty));
        assert_eq!(pending.len, MAX_PENDING);
    }
}
