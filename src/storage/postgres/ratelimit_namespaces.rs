//! Namespaces of the standalone rate limit in PostgreSQL.

use super::PgStorage;
use crate::storage::{NamespaceStore, Result};
use async_trait::async_trait;

#[async_trait]
impl NamespaceStore for PgStorage {
    async fn find_ratelimit_namespace(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM ratelimit_namespaces WHERE workspace_id = $1 AND name = $2",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id,)| id))
    }

    async fn create_ratelimit_namespace(
        &self,
        id: &str,
        workspace_id: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<String> {
        sqlx::query(
            "INSERT INTO ratelimit_namespaces (id, workspace_id, name, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, name) DO NOTHING",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(name)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        let (id,): (String,) = sqlx::query_as(
            "SELECT id FROM ratelimit_namespaces WHERE workspace_id = $1 AND name = $2",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }
}
