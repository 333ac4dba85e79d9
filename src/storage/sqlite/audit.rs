//! The audit log in SQLite.

use super::SqliteStorage;
use crate::storage::audit::{PRUNE_AUDIT, list_audit_query};
use crate::storage::{AuditQuery, AuditRow, AuditStore, Result};
use async_trait::async_trait;
use sqlx::Sqlite;

#[async_trait]
impl AuditStore for SqliteStorage {
    async fn list_audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditRow>> {
        Ok(list_audit_query::<Sqlite>(query)
            .build_query_as()
            .fetch_all(&self.pool)
            .await?)
    }

    async fn prune_audit(&self, before_ms: i64, batch: i64) -> Result<u64> {
        let done = sqlx::query(PRUNE_AUDIT)
            .bind(before_ms)
            .bind(batch)
            .execute(&mut *self.writer.lock().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
