//! Namespaces of the standalone rate limit.

use super::SqliteStorage;
use crate::storage::{NamespaceStore, Result};
use async_trait::async_trait;

#[async_trait]
impl NamespaceStore for SqliteStorage {
    async fn find_ratelimit_namespace(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id,)| id))
    }

    /// Creates a namespace, or returns the one a concurrent request created.
    async fn create_ratelimit_namespace(
        &self,
        id: &str,
        workspace_id: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<String> {
        sqlx::query(
            "INSERT INTO ratelimit_namespaces (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (workspace_id, name) DO NOTHING",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(name)
        .bind(now_ms)
        .execute(&mut *self.writer.lock().await?)
        .await?;
        let (id,): (String,) = sqlx::query_as(
            "SELECT id FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_one(&mut *self.writer.lock().await?)
        .await?;
        Ok(id)
    }
}
