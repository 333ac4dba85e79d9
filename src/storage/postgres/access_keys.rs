//! Sinch access keys in PostgreSQL.

use super::PgStorage;
use crate::storage::access_keys::name_taken_or;
use crate::storage::audit;
use crate::storage::{
    AccessKeyRow, AccessKeyStore, AuditRecord, InsertAccessKey, NewAccessKey, RenameAccessKey,
    Result,
};
use async_trait::async_trait;

/// Locks a project's row until the transaction ends: creates and revokes of
/// its keys queue behind it. The count that follows must be a statement of
/// its own, whose snapshot (READ COMMITTED) sees what the lock waited for.
pub(super) async fn lock_project(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    project_id: &str,
) -> Result<bool> {
    let found: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE")
        .bind(project_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

#[async_trait]
impl AccessKeyStore for PgStorage {
    async fn find_access_key(&self, id: &str) -> Result<Option<AccessKeyRow>> {
        Ok(sqlx::query_as(
            "SELECT id, project_id, display_name, secret_hash, created_at, updated_at
               FROM access_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The project's row is locked first, so creates on every node queue:
    /// a count and an insert under READ COMMITTED would let two through.
    async fn insert_access_key(
        &self,
        key: &NewAccessKey<'_>,
        limit: i64,
        audit: &AuditRecord,
    ) -> Result<InsertAccessKey> {
        let mut tx = self.pool.begin().await?;
        lock_project(&mut tx, key.project_id).await?;
        let (keys,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM access_keys WHERE project_id = $1")
                .bind(key.project_id)
                .fetch_one(&mut *tx)
                .await?;
        if keys >= limit {
            return Ok(InsertAccessKey::LimitReached);
        }
        let inserted = sqlx::query(
            "INSERT INTO access_keys (id, project_id, display_name, secret_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(key.id)
        .bind(key.project_id)
        .bind(key.display_name)
        .bind(key.secret_hash)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return name_taken_or(e, InsertAccessKey::NameTaken);
        }
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(InsertAccessKey::Inserted)
    }

    async fn list_access_keys(
        &self,
        project_id: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<AccessKeyRow>> {
        let (after_time, after_id) = after.unwrap_or((i64::MIN, ""));
        Ok(sqlx::query_as(
            "SELECT id, project_id, display_name, secret_hash, created_at, updated_at FROM access_keys
              WHERE project_id = $1 AND (created_at, id) > ($2, $3)
              ORDER BY created_at, id LIMIT $4",
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
        let mut tx = self.pool.begin().await?;
        let renamed = sqlx::query(
            "UPDATE access_keys SET display_name = $1, updated_at = $2 WHERE id = $3 AND project_id = $4",
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

    async fn delete_access_key(
        &self,
        project_id: &str,
        id: &str,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM access_keys WHERE id = $1 AND project_id = $2")
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
