//! Verification counts in PostgreSQL. Every node adds its own: an upsert
//! adds to what is there, so counts from all nodes add up.

use super::PgStorage;
use crate::storage::{CountsDelta, DailyCounts, Result, VerificationStore};
use async_trait::async_trait;

#[async_trait]
impl VerificationStore for PgStorage {
    async fn add_verification_counts(&self, batch: &[CountsDelta<'_>]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&CountsDelta<'_>) -> i64| batch.iter().map(f).collect::<Vec<i64>>();
        sqlx::query(
            "INSERT INTO verification_counts (key_id, day, workspace_id, success, rate_limited, usage_exceeded)
             SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[])
             ON CONFLICT (key_id, day) DO UPDATE SET
                success = verification_counts.success + excluded.success,
                rate_limited = verification_counts.rate_limited + excluded.rate_limited,
                usage_exceeded = verification_counts.usage_exceeded + excluded.usage_exceeded",
        )
        .bind(batch.iter().map(|d| d.key_id).collect::<Vec<_>>())
        .bind(column(|d| d.counts.day))
        .bind(batch.iter().map(|d| d.workspace_id).collect::<Vec<_>>())
        .bind(column(|d| d.counts.success))
        .bind(column(|d| d.counts.rate_limited))
        .bind(column(|d| d.counts.usage_exceeded))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn verification_counts(
        &self,
        workspace_id: &str,
        key_ids: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<DailyCounts>> {
        Ok(sqlx::query_as(
            "SELECT day, SUM(success)::BIGINT AS success, SUM(rate_limited)::BIGINT AS rate_limited,
                    SUM(usage_exceeded)::BIGINT AS usage_exceeded
               FROM verification_counts
              WHERE workspace_id = $1 AND day >= $2 AND day <= $3 AND key_id = ANY($4)
              GROUP BY day ORDER BY day",
        )
        .bind(workspace_id)
        .bind(start)
        .bind(end)
        .bind(key_ids)
        .fetch_all(&self.pool)
        .await?)
    }
}
