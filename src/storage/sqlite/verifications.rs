//! Verification outcomes per key and UTC day, written in batches.

use super::SqliteStorage;
use crate::storage::{CountsDelta, DailyCounts, Result, VerificationStore};
use async_trait::async_trait;

#[async_trait]
impl VerificationStore for SqliteStorage {
    /// Adds a batch of counts: one statement, one transaction.
    async fn add_verification_counts(&self, batch: &[CountsDelta]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = batch
            .iter()
            .map(|delta| {
                (
                    &delta.key_id,
                    delta.counts.day,
                    &delta.workspace_id,
                    delta.counts.success,
                    delta.counts.rate_limited,
                    delta.counts.usage_exceeded,
                )
            })
            .collect();
        // `WHERE true`: SQLite's parser needs it between a SELECT and ON CONFLICT.
        sqlx::query(
            "INSERT INTO verification_counts (key_id, day, workspace_id, success, rate_limited, usage_exceeded)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                    json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
               FROM json_each(?) WHERE true
             ON CONFLICT (key_id, day) DO UPDATE SET
                success = success + excluded.success,
                rate_limited = rate_limited + excluded.rate_limited,
                usage_exceeded = usage_exceeded + excluded.usage_exceeded",
        )
        .bind(serde_json::to_string(&rows).unwrap_or_default())
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(())
    }

    /// Daily counts summed over `key_ids` of the workspace, for days in
    /// `[start, end]`, ordered by day.
    async fn verification_counts(
        &self,
        workspace_id: &str,
        key_ids: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<DailyCounts>> {
        let mut query: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
            "SELECT day, SUM(success) AS success, SUM(rate_limited) AS rate_limited,
                    SUM(usage_exceeded) AS usage_exceeded
               FROM verification_counts WHERE workspace_id = ",
        );
        query
            .push_bind(workspace_id)
            .push(" AND day >= ")
            .push_bind(start)
            .push(" AND day <= ")
            .push_bind(end);
        query.push(" AND key_id IN (");
        let mut ids = query.separated(", ");
        for id in key_ids {
            ids.push_bind(id);
        }
        query.push(") GROUP BY day ORDER BY day");
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }
}
