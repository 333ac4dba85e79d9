//! The change log in SQLite: triggers (`migrations/sqlite/0003_changes.sql`)
//! write the rows; every process polls them.

use super::SqliteStorage;
use crate::storage::{
    ChangeBatch, ChangeFeed, ChangeStore, Result, SyncRequests, changes::change_of,
};
use async_trait::async_trait;
use sqlx::SqlitePool;
use std::time::Duration;

/// How often the log is read.
const POLL: Duration = Duration::from_millis(50);
/// Changes read at most per query.
const BATCH: i64 = 1000;

#[async_trait]
impl ChangeStore for SqliteStorage {
    async fn change_feed(&self) -> Result<Box<dyn ChangeFeed>> {
        let (last,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ok(Box::new(PolledLog {
            pool: self.pool.clone(),
            commits: std::sync::Arc::clone(&self.key_lookup),
            last: last.unwrap_or(0),
            tick,
        }))
    }

    async fn prune_changes(&self, before_ms: i64) -> Result<u64> {
        // The newest row stays: it tells readers where the log is.
        let done = sqlx::query(
            "DELETE FROM changes WHERE created_at < ? AND id < (SELECT MAX(id) FROM changes)",
        )
        .bind(before_ms)
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(done.rows_affected())
    }

    fn commit_watermark(&self) -> Option<u64> {
        self.key_lookup.commit_mark()
    }
}

/// Reads the rows after the last one seen, every [`POLL`].
struct PolledLog {
    pool: SqlitePool,
    /// Whose commit mark marks each read.
    commits: std::sync::Arc<super::key_lookup::KeyLookup>,
    last: i64,
    tick: tokio::time::Interval,
}

#[async_trait]
impl ChangeFeed for PolledLog {
    async fn next(&mut self, sync: &SyncRequests) -> Result<ChangeBatch> {
        // A batch with no changes still moves the watermark on.
        let synced = tokio::select! {
            round = sync.wanted() => Some(round),
            _ = self.tick.tick() => None,
        };
        self.read(synced).await
    }
}

impl PolledLog {
    /// Every row after the last one seen.
    async fn read(&mut self, synced: Option<u64>) -> Result<ChangeBatch> {
        let mut batch = ChangeBatch {
            synced,
            watermark: self.commits.commit_mark(),
            ..ChangeBatch::default()
        };
        loop {
            let rows: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT id, kind, entity FROM changes WHERE id > ? ORDER BY id LIMIT ?",
            )
            .bind(self.last)
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await?;
            let (Some(&(first, _, _)), Some(&(last, _, _))) = (rows.first(), rows.last()) else {
                return Ok(batch);
            };
            // Ids are consecutive (one writer at a time, AUTOINCREMENT): a
            // hole after what this reader saw means the log was pruned past it.
            batch.missed |= self.last > 0 && first != self.last + 1;
            self.last = last;
            let full = rows.len() as i64 == BATCH;
            batch.changes.extend(
                rows.into_iter()
                    .map(|(_, kind, entity)| change_of(&kind, entity)),
            );
            if !full {
                return Ok(batch);
            }
        }
    }
}
