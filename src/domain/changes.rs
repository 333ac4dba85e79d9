//! Keeps this process's caches true to what other processes on the same
//! database change: a second `serve`, another node, or the CLI. Storage
//! delivers their changes (see [`crate::storage::ChangeFeed`]); this drops
//! what they made stale. A change made through this process's own API is
//! dropped at once, before its answer; this is for the others, which see it
//! within 100 ms. A reader that must know of every change committed before
//! a moment asks for a sync round (see [`crate::storage::SyncRequests`]).

use crate::domain::clock::Clock;
use crate::domain::sinch::Sinch;
use crate::domain::unkey::Unkey;
use crate::storage::{ChangeBatch, Storage};
use std::sync::Arc;
use std::time::Duration;

/// Changes older than this are pruned; a process asleep longer drops all it
/// cached when it wakes.
const KEEP_MS: i64 = 10 * 60 * 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Starts the watcher, from the changes committed now on.
pub async fn spawn_watcher(
    storage: Storage,
    unkey: Arc<Unkey>,
    sinch: Arc<Sinch>,
    clock: Arc<dyn Clock>,
    log: slog::Logger,
) -> crate::storage::Result<tokio::task::JoinHandle<()>> {
    let mut feed = storage.change_feed().await?;
    let sync = unkey.change_sync();
    Ok(tokio::spawn(async move {
        let mut pruned = tokio::time::Instant::now();
        loop {
            match feed.next(&sync).await {
                Ok(batch) => {
                    if let Err(e) = apply(&unkey, &sinch, &batch).await {
                        slog::warn!(log, "applying changes failed; dropping every cache"; "error" => %e);
                        let _ = unkey.forget_everything().await;
                        let _ = sinch.forget_everything().await;
                    }
                    sync.applied(&batch);
                }
                Err(e) => {
                    slog::warn!(log, "reading changes failed; will retry"; "error" => %e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = tokio::time::Instant::now();
                if let Err(e) = storage.prune_changes(clock.now_ms() - KEEP_MS).await {
                    slog::warn!(log, "pruning the change log failed"; "error" => %e);
                }
            }
        }
    }))
}

async fn apply(unkey: &Unkey, sinch: &Sinch, batch: &ChangeBatch) -> anyhow::Result<()> {
    if batch.missed {
        unkey.forget_everything().await?;
        sinch.forget_everything().await?;
    }
    for change in &batch.changes {
        unkey.apply_change(change).await?;
        sinch.apply_change(change).await?;
    }
    Ok(())
}
