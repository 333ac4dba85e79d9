//! Sinch access keys, per project, and the token signing key.

use super::SqliteStorage;
use crate::storage::access_keys::name_taken_or;
use crate::storage::audit;
use crate::storage::{
    AccessKeyRow, AccessKeyStore, AuditRecord, InsertAccessKey, NewAccessKey, RenameAccessKey,
    Result,
};
use async_trait::async_trait;
use sqlx::Connection as _;

#[async_trait]
impl AccessKeyStore for SqliteStorage {
    async fn find_access_key(&self, id: &str) -> Result<Option<AccessKeyRow>> {
        Ok(sqlx::query_as(
            "SELECT id, project_id, display_name, secret_hash, created_at, updated_at FROM access_keys WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Inserts a key unless the project already has `limit` keys; the count
    /// and the insert are one statement, so concurrent creates cannot pass it.
    async fn insert_access_key(
        &self,
        key: &NewAccessKey<'_>,
        limit: i64,
        audit: &AuditRecord,
    ) -> Result<InsertAccessKey> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO access_keys (id, project_id, display_name, secret_hash, created_at, updated_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?5
              WHERE (SELECT COUNT(*) FROM access_keys WHERE project_id = ?2) < ?6",
        )
        .bind(key.id)
        .bind(key.project_id)
        .bind(key.display_name)
        .bind(key.secret_hash)
        .bind(key.created_at)
        .bind(limit)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 1 => {
                audit::record(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(InsertAccessKey::Inserted)
            }
            Ok(_) => Ok(InsertAccessKey::LimitReached),
            Err(e) => name_taken_or(e, InsertAccessKey::NameTaken),
        }
    }

    /// A page of a project's keys in creation order, after `after`.
    async fn list_access_keys(
        &self,
        project_id: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<AccessKeyRow>> {
        let (after_time, after_id) = after.unwrap_or((i64::MIN, ""));
        Ok(sqlx::query_as(
            "SELECT id, project_id, display_name, secret_hash, created_at, updated_at FROM access_keys
              WHERE project_id = ? AND (created_at, id) > (?, ?)
              ORDER BY created_at, id LIMIT ?",
        )
        .bind(project_id)
        .bind(after_time)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn rename_access_key(
        &self,
        project_id: &str,
        id: &str,
        display_name: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<RenameAccessKey> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let renamed = sqlx::query(
            "UPDATE access_keys SET display_name = ?, updated_at = ? WHERE id = ? AND project_id = ?",
        )
        .bind(display_name)
        .bind(now_ms)
        .bind(id)
        .bind(project_id)
        .execute(&mut *tx)
        .await;
        match renamed {
            Ok(done) if done.rows_affected() == 1 => {
                audit::record(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(RenameAccessKey::Renamed)
            }
            Ok(_) => Ok(RenameAccessKey::NotFound),
            Err(e) => name_taken_or(e, RenameAccessKey::NameTaken),
        }
    }

    /// Returns false when the project has no such key.
    async fn delete_access_key(
        &self,
        project_id: &str,
        id: &str,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let deleted = sqlx::query("DELETE FROM access_keys WHERE id = ? AND project_id = ?")
            .bind(id)
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
