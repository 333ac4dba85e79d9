//! Keeps this process's caches true to what other processes on the same
//! database change: a second `serve`, or the CLI. Every 50 ms it reads the
//! change log (see `migrations/0003_changes.sql`) after the last change it
//! saw, and drops what those changes made stale. A change made through this
//! process's own API is dropped at once, before its answer; this is for the
//! others, which see it within [`POLL`] and a read.

use crate::domain::clock::Clock;
use crate::domain::sinch::Sinch;
use crate::domain::unkey::Unkey;
use crate::storage::Storage;
use std::sync::Arc;
use std::time::Duration;

/// How often the change log is read.
pub const POLL: Duration = Duration::from_millis(50);
/// Changes older than this are pruned; a process asleep longer drops all it
/// cached when it wakes.
const KEEP_MS: i64 = 10 * 60 * 1000;
/// How often pruning runs, in polls.
const PRUNE_EVERY: u64 = 1200;

/// Starts the watcher, from the newest change on.
pub async fn spawn_watcher(
    storage: Storage,
    unkey: Arc<Unkey>,
    sinch: Arc<Sinch>,
    clock: Arc<dyn Clock>,
    log: slog::Logger,
) -> crate::storage::Result<tokio::task::JoinHandle<()>> {
    let mut last = storage.latest_change_id().await?;
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for polls in 1u64.. {
            tick.tick().await;
            match apply_new_changes(&storage, &unkey, &sinch, last).await {
                Ok(seen) => last = seen,
                Err(e) => {
                    slog::warn!(log, "reading the change log failed; will retry"; "error" => %e)
                }
            }
            if polls.is_multiple_of(PRUNE_EVERY)
                && let Err(e) = storage.prune_changes(clock.now_ms() - KEEP_MS).await
            {
                slog::warn!(log, "pruning the change log failed"; "error" => %e);
            }
        }
    }))
}

/// Applies the changes after `last`; returns the last one applied.
async fn apply_new_changes(
    storage: &Storage,
    unkey: &Unkey,
    sinch: &Sinch,
    mut last: i64,
) -> anyhow::Result<i64> {
    loop {
        let batch = storage.changes_after(last).await?;
        if batch.missed {
            unkey.forget_everything().await?;
            sinch.forget_everything();
        }
        for change in &batch.changes {
            unkey.apply_change(change).await?;
            sinch.apply_change(change);
        }
        if batch.changes.is_empty() {
            return Ok(last);
        }
        last = batch.last_id;
    }
}
