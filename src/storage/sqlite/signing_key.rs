//! The token signing keys in SQLite.

use super::SqliteStorage;
use crate::storage::audit;
use crate::storage::{AuditRecord, Result, SigningKeyRow, SigningKeyStore};
use async_trait::async_trait;
use sqlx::Connection as _;

#[async_trait]
impl SigningKeyStore for SqliteStorage {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        Ok(sqlx::query_as(
            "SELECT kid, private_key, created_at, retired_at FROM token_signing_keys
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn add_first_signing_key(&self, first: &SigningKeyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO token_signing_keys (kid, private_key, created_at)
             SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM token_signing_keys)",
        )
        .bind(&first.kid)
        .bind(&first.private_key)
        .bind(first.created_at)
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(())
    }

    async fn rotate_signing_key(
        &self,
        next: &SigningKeyRow,
        now_ms: i64,
        drop_retired_before: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE token_signing_keys SET retired_at = ? WHERE retired_at IS NULL")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM token_signing_keys WHERE retired_at < ?")
            .bind(drop_retired_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO token_signing_keys (kid, private_key, created_at) VALUES (?, ?, ?)",
        )
        .bind(&next.kid)
        .bind(&next.private_key)
        .bind(next.created_at)
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
