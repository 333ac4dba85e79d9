//! Root keys, as the Unkey API authenticates them.

use super::SqliteStorage;
use crate::storage::{Result, RootKeyRow, RootKeyStore};
use async_trait::async_trait;

#[async_trait]
impl RootKeyStore for SqliteStorage {
    /// One indexed lookup by hash, with the workspace's state and the key's
    /// permissions.
    async fn find_root_key(&self, hash: &[u8]) -> Result<Option<RootKeyRow>> {
        let row: Option<(String, String, bool, String)> = sqlx::query_as(
            "SELECT r.id, r.workspace_id, w.enabled AS workspace_enabled,
                    (SELECT json_group_array(permission) FROM root_key_permissions
                      WHERE root_key_id = r.id) AS permissions
               FROM root_keys r JOIN workspaces w ON w.id = r.workspace_id
              WHERE r.hash = ? AND r.deleted_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, workspace_id, workspace_enabled, permissions)| RootKeyRow {
                id,
                workspace_id,
                workspace_enabled,
                permissions: crate::storage::keys::names(&permissions),
            },
        ))
    }

    /// Ids of the disabled workspaces.
    async fn disabled_workspaces(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM workspaces WHERE enabled = 0")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
