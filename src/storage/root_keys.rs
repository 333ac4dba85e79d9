//! Root keys, as the Unkey API authenticates them.

use super::{Result, Storage};

/// A live root key with what authorizing a request needs.
#[derive(Debug, sqlx::FromRow)]
pub struct RootKeyRow {
    pub id: String,
    pub workspace_id: String,
    pub workspace_enabled: bool,
    /// A JSON array of permission strings.
    pub permissions: String,
}

impl Storage {
    /// One indexed lookup by hash, with the workspace's state and the key's
    /// permissions.
    pub async fn find_root_key(&self, hash: &[u8]) -> Result<Option<RootKeyRow>> {
        Ok(sqlx::query_as(
            "SELECT r.id, r.workspace_id, w.enabled AS workspace_enabled,
                    (SELECT json_group_array(permission) FROM root_key_permissions
                      WHERE root_key_id = r.id) AS permissions
               FROM root_keys r JOIN workspaces w ON w.id = r.workspace_id
              WHERE r.hash = ? AND r.deleted_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ids of the disabled workspaces.
    pub async fn disabled_workspaces(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM workspaces WHERE enabled = 0")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
