//! Shared rate limits in PostgreSQL: buckets under their row's lock, and
//! window counts as one conditional upsert. Their transactions commit without
//! waiting for the WAL's flush (`synchronous_commit = off`): a limiter's
//! state is not worth an fsync per request, and a crash loses at most the
//! last fraction of a second of it, as a restart loses in-memory limits.

use super::PgStorage;
use crate::storage::{BucketRow, LimitStore, Result, WindowCount};
use async_trait::async_trait;

#[async_trait]
impl LimitStore for PgStorage {
    async fn update_bucket(
        &self,
        key_id: &str,
        fresh: BucketRow,
        take: &(dyn for<'b> Fn(&'b mut BucketRow) -> bool + Send + Sync),
    ) -> Result<(BucketRow, bool)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO key_buckets (key_id, bucket_limit, refill_rate, refill_interval, tokens, last_refill)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(key_id)
        .bind(fresh.limit)
        .bind(fresh.refill_rate)
        .bind(fresh.refill_interval)
        .bind(fresh.tokens)
        .bind(fresh.last_refill)
        .execute(&mut *tx)
        .await?;
        let (limit, refill_rate, refill_interval, tokens, last_refill): (i64, i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT bucket_limit, refill_rate, refill_interval, tokens, last_refill
                   FROM key_buckets WHERE key_id = $1 FOR UPDATE",
            )
            .bind(key_id)
            .fetch_one(&mut *tx)
            .await?;
        let mut bucket = BucketRow {
            limit,
            refill_rate,
            refill_interval,
            tokens,
            last_refill,
        };
        let allowed = take(&mut bucket);
        sqlx::query(
            "UPDATE key_buckets SET bucket_limit = $2, refill_rate = $3, refill_interval = $4,
                    tokens = $5, last_refill = $6
              WHERE key_id = $1",
        )
        .bind(key_id)
        .bind(bucket.limit)
        .bind(bucket.refill_rate)
        .bind(bucket.refill_interval)
        .bind(bucket.tokens)
        .bind(bucket.last_refill)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((bucket, allowed))
    }

    async fn count_in_window(
        &self,
        counter: &[u8],
        window: i64,
        limit: i64,
        cost: i64,
        expires_at: i64,
    ) -> Result<WindowCount> {
        if cost <= limit {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
            let counted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO ratelimit_windows AS w (counter, window_number, used, expires_at)
                 VALUES ($1, $2, $3, $5)
                 ON CONFLICT (counter, window_number) DO UPDATE SET used = w.used + excluded.used
                  WHERE w.used + excluded.used <= $4
                 RETURNING used",
            )
            .bind(counter)
            .bind(window)
            .bind(cost)
            .bind(limit)
            .bind(expires_at)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            if let Some((used,)) = counted {
                return Ok(WindowCount {
                    allowed: true,
                    used,
                });
            }
        }
        let used: Option<(i64,)> = sqlx::query_as(
            "SELECT used FROM ratelimit_windows WHERE counter = $1 AND window_number = $2",
        )
        .bind(counter)
        .bind(window)
        .fetch_optional(&self.pool)
        .await?;
        Ok(WindowCount {
            allowed: false,
            used: used.map_or(0, |(used,)| used),
        })
    }

    async fn prune_windows(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM ratelimit_windows WHERE expires_at < $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
