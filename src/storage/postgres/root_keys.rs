//! Root keys in PostgreSQL.

use super::PgStorage;
use crate::storage::keys::names;
use crate::storage::{Result, RootKeyRow, RootKeyStore};
use async_trait::async_trait;

#[async_trait]
impl RootKeyStore for PgStorage {
    async fn find_root_key(&self, hash: &[u8]) -> Result<Option<RootKeyRow>> {
        let row: Option<(String, String, bool, String)> = sqlx::query_as(
            "SELECT r.id, r.workspace_id, w.enabled,
                    COALESCE((SELECT json_agg(permission) FROM root_key_permissions
                      WHERE root_key_id = r.id)::text, '[]')
               FROM root_keys r JOIN workspaces w ON w.id = r.workspace_id
              WHERE r.hash = $1 AND r.deleted_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, workspace_id, workspace_enabled, permissions)| RootKeyRow {
                id,
                workspace_id,
                workspace_enabled,
                permissions: names(&permissions),
            },
        ))
    }

    async fn disabled_workspaces(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM workspaces WHERE NOT enabled")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
