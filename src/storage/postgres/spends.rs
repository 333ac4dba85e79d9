//! Spends in PostgreSQL: the two statements of a group (see
//! `crate::storage::spends`). Each node runs its own groups; they meet on
//! the keys' row locks, so every spend sees the one committed before it.

use super::refill_due;
use crate::storage::spends::{GroupSpender, hand_out};
use crate::storage::{RefillBoundaries, Result, Spend};
use async_trait::async_trait;
use sqlx::PgPool;

/// SQL: a key's remaining uses once a due refill is applied, with the day
/// and month starts bound at these parameter numbers.
macro_rules! refilled_remaining {
    ($day:literal, $month:literal) => {
        concat!(
            "(CASE WHEN ",
            refill_due!($day, $month),
            " THEN GREATEST(remaining, refill_amount) ELSE remaining END)"
        )
    };
}

pub(super) struct PgSpender {
    pub(super) pool: PgPool,
}

#[async_trait]
impl GroupSpender for PgSpender {
    async fn spend_where_enough(
        &self,
        counts: &[(&str, i64)],
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(concat!(
            "UPDATE keys SET remaining = ",
            refilled_remaining!("3", "4"),
            " - g.count,
                last_refill_at = CASE WHEN ",
            refill_due!("3", "4"),
            " THEN $5 ELSE last_refill_at END
               FROM unnest($1::TEXT[], $2::BIGINT[]) AS g (key_id, count)
              WHERE keys.id = g.key_id AND keys.deleted_at IS NULL AND keys.remaining IS NOT NULL
                AND ",
            refilled_remaining!("3", "4"),
            " >= g.count
              RETURNING keys.id, keys.remaining"
        ))
        .bind(counts.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(counts.iter().map(|(_, count)| *count).collect::<Vec<_>>())
        .bind(refill.day_start)
        .bind(refill.month_start)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The keys' rows are locked as they are read (in id order, so that two
    /// nodes' groups cannot deadlock), until the commit.
    async fn spend_each(
        &self,
        key_ids: &[&str],
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<Vec<Spend>> {
        let mut distinct: Vec<&str> = key_ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(concat!(
            "SELECT id, ",
            refilled_remaining!("2", "3"),
            ", ",
            refill_due!("2", "3"),
            " FROM keys WHERE id = ANY($1) AND deleted_at IS NULL AND remaining IS NOT NULL
              ORDER BY id FOR UPDATE"
        ))
        .bind(&distinct)
        .bind(refill.day_start)
        .bind(refill.month_start)
        .fetch_all(&mut *tx)
        .await?;
        let (spends, writes) = hand_out(key_ids, rows);
        if !writes.is_empty() {
            sqlx::query(
                "UPDATE keys SET remaining = g.remaining,
                        last_refill_at = CASE WHEN g.refilled THEN $4 ELSE last_refill_at END
                   FROM unnest($1::TEXT[], $2::BIGINT[], $3::BOOLEAN[]) AS g (key_id, remaining, refilled)
                  WHERE keys.id = g.key_id",
            )
            .bind(writes.iter().map(|k| k.id.as_str()).collect::<Vec<_>>())
            .bind(writes.iter().map(|k| k.remaining).collect::<Vec<_>>())
            .bind(writes.iter().map(|k| k.refilled).collect::<Vec<_>>())
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(spends)
    }
}
