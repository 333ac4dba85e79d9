//! Spends in SQLite: the two statements of a group (see
//! `crate::storage::spends`), through the one writer connection.

use super::keys::{refill_due, refilled_remaining};
use super::writer::Writer;
use crate::storage::spends::{GroupSpender, hand_out};
use crate::storage::{RefillBoundaries, Result, Spend};
use async_trait::async_trait;
use sqlx::Connection as _;

/// The writer, spending.
pub(super) struct SqliteSpender {
    pub(super) writer: std::sync::Arc<Writer>,
}

#[async_trait]
impl GroupSpender for SqliteSpender {
    async fn spend_where_enough(
        &self,
        counts: &[(&str, i64)],
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(concat!(
            "UPDATE keys SET remaining = ",
            refilled_remaining!(),
            " - g.count,
            last_refill_at = CASE WHEN ",
            refill_due!(),
            " THEN ? ELSE last_refill_at END
          FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS count
                  FROM json_each(?)) AS g
         WHERE keys.id = g.id AND keys.deleted_at IS NULL AND keys.remaining IS NOT NULL
           AND ",
            refilled_remaining!(),
            " >= g.count
         RETURNING id, remaining"
        ))
        .bind(refill.day_start)
        .bind(refill.month_start)
        .bind(refill.day_start)
        .bind(refill.month_start)
        .bind(now_ms)
        .bind(serde_json::to_string(counts).unwrap_or_default())
        .bind(refill.day_start)
        .bind(refill.month_start)
        .fetch_all(&mut *self.writer.lock().await?)
        .await?)
    }

    /// Under `BEGIN IMMEDIATE`: the write lock from the start, so no other
    /// process can write between the read of what is left and the write.
    async fn spend_each(
        &self,
        key_ids: &[&str],
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<Vec<Spend>> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut distinct: Vec<&str> = key_ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(concat!(
            "SELECT id, ",
            refilled_remaining!(),
            ", ",
            refill_due!(),
            " FROM keys WHERE id IN (SELECT value FROM json_each(?))
                AND deleted_at IS NULL AND remaining IS NOT NULL"
        ))
        .bind(refill.day_start)
        .bind(refill.month_start)
        .bind(refill.day_start)
        .bind(refill.month_start)
        .bind(serde_json::to_string(&distinct).unwrap_or_default())
        .fetch_all(&mut *tx)
        .await?;

        let (spends, writes) = hand_out(key_ids, rows);
        if !writes.is_empty() {
            sqlx::query(
                "UPDATE keys SET remaining = g.remaining,
                        last_refill_at = CASE WHEN g.refilled THEN ? ELSE last_refill_at END
                   FROM (SELECT json_extract(value, '$[0]') AS id,
                                json_extract(value, '$[1]') AS remaining,
                                json_extract(value, '$[2]') AS refilled
                           FROM json_each(?)) AS g
                  WHERE keys.id = g.id",
            )
            .bind(now_ms)
            .bind(
                serde_json::to_string(
                    &writes
                        .iter()
                        .map(|k| (&k.id, k.remaining, k.refilled))
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_default(),
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(spends)
    }
}
