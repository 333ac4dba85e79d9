//! Unkey apis in PostgreSQL.

use super::PgStorage;
use crate::storage::audit;
use crate::storage::{ApiRow, ApiStore, AuditRecord, Result};
use async_trait::async_trait;

#[async_trait]
impl ApiStore for PgStorage {
    async fn create_api(
        &self,
        id: &str,
        workspace_id: &str,
        name: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO apis (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
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

    async fn find_api(&self, workspace_id: &str, api_id: &str) -> Result<Option<ApiRow>> {
        Ok(sqlx::query_as(
            "SELECT id, workspace_id, name FROM apis
              WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        )
        .bind(api_id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn delete_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(
            "UPDATE apis SET deleted_at = $1 WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL",
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
            "UPDATE keys SET deleted_at = $1 WHERE api_id = $2 AND deleted_at IS NULL RETURNING hash",
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
