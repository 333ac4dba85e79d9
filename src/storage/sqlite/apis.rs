//! Unkey apis: the keyspaces keys belong to.

use super::SqliteStorage;
use crate::storage::audit;
use crate::storage::{ApiRow, ApiStore, AuditRecord, Result};
use async_trait::async_trait;
use sqlx::Connection as _;

#[async_trait]
impl ApiStore for SqliteStorage {
    async fn create_api(
        &self,
        id: &str,
        workspace_id: &str,
        name: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT INTO apis (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(workspace_id)
            .bind(name)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A live api of the workspace.
    async fn find_api(&self, workspace_id: &str, api_id: &str) -> Result<Option<ApiRow>> {
        Ok(sqlx::query_as(
            "SELECT id, workspace_id, name FROM apis
              WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
        )
        .bind(api_id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Soft-deletes an api and its live keys in one transaction. Returns the
    /// hashes of the keys it deleted, or `None` when there was no such api.
    async fn delete_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let deleted = sqlx::query(
            "UPDATE apis SET deleted_at = ? WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
        )
        .bind(now_ms)
        .bind(api_id)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Ok(None);
        }
        let hashes: Vec<(Vec<u8>,)> = sqlx::query_as(
            "UPDATE keys SET deleted_at = ? WHERE api_id = ? AND deleted_at IS NULL RETURNING hash",
        )
        .bind(now_ms)
        .bind(api_id)
        .fetch_all(&mut *tx)
        .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some(hashes.into_iter().map(|(h,)| h).collect()))
    }
}
