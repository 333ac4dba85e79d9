//! Operator-side writes: workspaces, root keys, roles, projects and access
//! keys as created by the CLI and the first-start bootstrap.

use super::{Result, Storage, StorageError};

/// A root key to insert; `hash` is the SHA-256 of the key.
pub struct NewRootKey<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub hash: &'a [u8],
    pub start: &'a str,
    pub permissions: &'a [String],
    pub created_at: i64,
}

impl Storage {
    /// Whether the database holds neither a workspace nor a project: a first start.
    pub async fn is_empty(&self) -> Result<bool> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM workspaces) + (SELECT COUNT(*) FROM projects)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(count == 0)
    }

    pub async fn create_workspace(&self, id: &str, name: &str, created_at: i64) -> Result<()> {
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(name)
            .bind(created_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Returns false when no such workspace exists.
    pub async fn set_workspace_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        let result = sqlx::query("UPDATE workspaces SET enabled = ? WHERE id = ?")
            .bind(enabled)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn workspace_exists(&self, id: &str) -> Result<bool> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM workspaces WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    pub async fn create_root_key(&self, key: &NewRootKey<'_>) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT INTO root_keys (id, workspace_id, hash, start, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(key.id)
            .bind(key.workspace_id)
            .bind(key.hash)
            .bind(key.start)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        for permission in key.permissions {
            sqlx::query("INSERT OR IGNORE INTO root_key_permissions (root_key_id, permission) VALUES (?, ?)")
                .bind(key.id)
                .bind(permission)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates a role with its permissions, creating the permissions that the
    /// workspace does not have yet. `new_id` names new rows.
    pub async fn create_role(
        &self,
        workspace_id: &str,
        role_id: &str,
        name: &str,
        permissions: &[String],
        created_at: i64,
        new_id: impl Fn() -> String,
    ) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO roles (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(role_id)
        .bind(workspace_id)
        .bind(name)
        .bind(created_at)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            let e = StorageError::from(e);
            return Err(if e.is_unique_violation() {
                StorageError::Conflict(format!(
                    "role {name} already exists in workspace {workspace_id}"
                ))
            } else {
                e
            });
        }
        for permission in permissions {
            sqlx::query(
                "INSERT INTO permissions (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (workspace_id, name) DO NOTHING",
            )
            .bind(new_id())
            .bind(workspace_id)
            .bind(permission)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT OR IGNORE INTO role_permissions (role_id, permission_id)
                 SELECT ?, id FROM permissions WHERE workspace_id = ? AND name = ?",
            )
            .bind(role_id)
            .bind(workspace_id)
            .bind(permission)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_project(&self, id: &str, name: &str, created_at: i64) -> Result<()> {
        sqlx::query("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(name)
            .bind(created_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
