//! Verification counts per key and UTC day. The verify path only adds to an
//! in-memory tally; a background task writes it out at least every second,
//! and shutdown writes the rest.

use crate::storage::{CountsDelta, DailyCounts, Storage, StorageError};
use std::collections::HashMap;
use std::sync::Mutex;

const DAY_MS: i64 = 86_400_000;
/// Counters written per statement (and transaction): a few milliseconds of
/// the writer at most.
const FLUSH_CHUNK: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    RateLimited,
    UsageExceeded,
}

#[derive(Default)]
pub struct VerificationCounts {
    pending: Mutex<HashMap<(String, i64), (String, DailyCounts)>>,
}

impl VerificationCounts {
    pub fn record(&self, workspace_id: &str, key_id: &str, now: i64, outcome: Outcome) {
        let day = now.div_euclid(DAY_MS) * DAY_MS;
        let mut pending = match self.pending.lock() {
            Ok(pending) => pending,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (_, counts) = pending.entry((key_id.to_string(), day)).or_insert_with(|| {
            (
                workspace_id.to_string(),
                DailyCounts {
                    day,
                    ..Default::default()
                },
            )
        });
        match outcome {
            Outcome::Success => counts.success += 1,
            Outcome::RateLimited => counts.rate_limited += 1,
            Outcome::UsageExceeded => counts.usage_exceeded += 1,
        }
    }

    /// Writes out what is pending, in short transactions: the writer is
    /// shared with the verify path's spends, which must not wait behind
    /// thousands of counters. On failure the unwritten counts are put back.
    pub async fn flush(&self, storage: &Storage) -> Result<(), StorageError> {
        let mut batch: Vec<CountsDelta> = {
            let mut pending = match self.pending.lock() {
                Ok(pending) => pending,
                Err(poisoned) => poisoned.into_inner(),
            };
            pending
                .drain()
                .map(|((key_id, _), (workspace_id, counts))| CountsDelta {
                    key_id,
                    workspace_id,
                    counts,
                })
                .collect()
        };
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
        Ok(())
    }

    /// Returns unwritten counts to the tally, for the next flush.
    fn put_back(&self, deltas: impl Iterator<Item = CountsDelta>) {
        let mut pending = match self.pending.lock() {
            Ok(pending) => pending,
            Err(poisoned) => poisoned.into_inner(),
        };
        for delta in deltas {
            let (_, counts) = pending
                .entry((delta.key_id, delta.counts.day))
                .or_insert_with(|| {
                    (
                        delta.workspace_id,
                        DailyCounts {
                            day: delta.counts.day,
                            ..Default::default()
                        },
                    )
                });
            counts.success += delta.counts.success;
            counts.rate_limited += delta.counts.rate_limited;
            counts.usage_exceeded += delta.counts.usage_exceeded;
        }
    }
}
