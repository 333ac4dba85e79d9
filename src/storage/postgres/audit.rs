//! The audit log in PostgreSQL.

use super::PgStorage;
use crate::storage::audit::{PRUNE_AUDIT, list_audit_query};
use crate::storage::{AuditQuery, AuditRow, AuditStore, Result};
use async_trait::async_trait;
use sqlx::Postgres;

#[async_trait]
impl AuditStore for PgStorage {
    async fn list_audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditRow>> {
        Ok(list_audit_query::<Postgres>(query)
            .build_query_as()
            .fetch_all(&self.pool)
            .await?)
    }

    async fn prune_audit(&self, before_ms: i64, batch: i64) -> Result<u64> {
        let done = sqlx::query(PRUNE_AUDIT)
            .bind(before_ms)
            .bind(batch)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
