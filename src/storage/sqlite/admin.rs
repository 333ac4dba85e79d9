//! Operator-side writes: workspaces, root keys, roles, projects and access
//! keys as created by the CLI and the first-start bootstrap.

use super::SqliteStorage;
use crate::storage::audit;
use crate::storage::keys::names;
use crate::storage::{
    AdminStore, AuditRecord, NewRole, NewRootKey, ProjectRow, Removal, Result, RoleRow,
    RootKeyListRow, StorageError, WorkspaceRow,
};
use async_trait::async_trait;
use sqlx::Connection as _;

#[async_trait]
impl AdminStore for SqliteStorage {
    /// Whether the database holds neither a workspace nor a project: a first start.
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn is_empty(&self) -> Result<bool> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM workspaces) + (SELECT COUNT(*) FROM projects)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(count == 0)
    }

    async fn create_workspace(
        &self,
        id: &str,
        name: &str,
        created_at: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(name)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns false when no such workspace exists.
    async fn set_workspace_enabled(
        &self,
        id: &str,
        enabled: bool,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let result = sqlx::query("UPDATE workspaces SET enabled = ? WHERE id = ?")
            .bind(enabled)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn workspace_exists(&self, id: &str) -> Result<bool> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM workspaces WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn create_root_key(&self, key: &NewRootKey<'_>, audit: &AuditRecord) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
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
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a role with its permissions, creating the permissions that the
    /// workspace does not have yet. `new_id` names new rows.
    async fn create_role(&self, role: &NewRole<'_>, audit: &AuditRecord) -> Result<()> {
        let NewRole {
            workspace_id,
            role_id,
            name,
            permissions,
            created_at,
            permission_ids,
        } = *role;
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
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
        for (permission, permission_id) in permissions.iter().zip(permission_ids) {
            sqlx::query(
                "INSERT INTO permissions (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (workspace_id, name) DO NOTHING",
            )
            .bind(permission_id)
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
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_project(
        &self,
        id: &str,
        name: &str,
        created_at: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(name)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_workspaces(&self) -> Result<Vec<WorkspaceRow>> {
        Ok(sqlx::query_as(
            "SELECT w.id, w.name, w.enabled, w.created_at,
                    (SELECT COUNT(*) FROM apis a
                      WHERE a.workspace_id = w.id AND a.deleted_at IS NULL) AS apis,
                    (SELECT COUNT(*) FROM root_keys r
                      WHERE r.workspace_id = w.id AND r.deleted_at IS NULL) AS root_keys
               FROM workspaces w ORDER BY w.created_at, w.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The workspace's live root keys, oldest first.
    async fn list_root_keys(&self, workspace_id: &str) -> Result<Vec<RootKeyListRow>> {
        let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT r.id, r.start,
                    (SELECT json_group_array(permission) FROM
                       (SELECT permission FROM root_key_permissions
                         WHERE root_key_id = r.id ORDER BY permission)),
                    r.created_at, r.last_used_at
               FROM root_keys r
              WHERE r.workspace_id = ? AND r.deleted_at IS NULL
              ORDER BY r.created_at, r.id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, start, permissions, created_at, last_used_at)| RootKeyListRow {
                    id,
                    start,
                    permissions: names(&permissions),
                    created_at,
                    last_used_at,
                },
            )
            .collect())
    }

    /// Revokes a live root key. Returns false when there is no such key.
    /// The audit record gets the key's workspace.
    async fn revoke_root_key(&self, id: &str, now_ms: i64, audit: &AuditRecord) -> Result<bool> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let revoked: Option<(String,)> = sqlx::query_as(
            "UPDATE root_keys SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL
             RETURNING workspace_id",
        )
        .bind(now_ms)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((workspace_id,)) = revoked else {
            return Ok(false);
        };
        let audit = AuditRecord {
            workspace_id: Some(workspace_id),
            ..audit.clone()
        };
        audit::record(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records when root keys were last used: (id, unix ms) pairs.
    async fn record_root_key_use(&self, uses: &[(String, i64)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE root_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), u.at)
               FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS at
                       FROM json_each(?)) AS u
              WHERE root_keys.id = u.id",
        )
        .bind(serde_json::to_string(uses).unwrap_or_default())
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(())
    }

    /// The workspace's roles by name.
    async fn list_roles(&self, workspace_id: &str) -> Result<Vec<RoleRow>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT r.id, r.name,
                    (SELECT json_group_array(name) FROM
                       (SELECT p.name FROM role_permissions rp
                          JOIN permissions p ON p.id = rp.permission_id
                         WHERE rp.role_id = r.id ORDER BY p.name)),
                    (SELECT COUNT(*) FROM key_roles kr JOIN keys k ON k.id = kr.key_id
                      WHERE kr.role_id = r.id AND k.deleted_at IS NULL)
               FROM roles r WHERE r.workspace_id = ? ORDER BY r.name",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, permissions, keys)| RoleRow {
                id,
                name,
                permissions: names(&permissions),
                keys,
            })
            .collect())
    }

    /// Deletes a role of the workspace; keys that hold it lose its
    /// permissions. Without `force`, a role that live keys hold is kept.
    async fn delete_role(
        &self,
        workspace_id: &str,
        name: &str,
        force: bool,
        audit: &AuditRecord,
    ) -> Result<Removal> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let found: Option<(String, i64)> = sqlx::query_as(
            "SELECT r.id, (SELECT COUNT(*) FROM key_roles kr JOIN keys k ON k.id = kr.key_id
                            WHERE kr.role_id = r.id AND k.deleted_at IS NULL)
               FROM roles r WHERE r.workspace_id = ? AND r.name = ?",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((role_id, keys)) = found else {
            return Ok(Removal::NotFound);
        };
        if keys > 0 && !force {
            return Ok(Removal::InUse(keys));
        }
        // Its key_roles and role_permissions rows go with it (ON DELETE
        // CASCADE), and their triggers tell other processes.
        sqlx::query("DELETE FROM roles WHERE id = ?")
            .bind(&role_id)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Removal::Removed)
    }

    async fn list_projects(&self) -> Result<Vec<ProjectRow>> {
        Ok(sqlx::query_as(
            "SELECT p.id, p.name, p.created_at,
                    (SELECT COUNT(*) FROM access_keys k WHERE k.project_id = p.id) AS access_keys
               FROM projects p ORDER BY p.created_at, p.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn project_exists(&self, id: &str) -> Result<bool> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM projects WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// Deletes an access key of the project. Without `force`, the project's
    /// last key is kept: deleting it locks the project's callers out.
    async fn revoke_access_key(
        &self,
        project_id: &str,
        id: &str,
        force: bool,
        audit: &AuditRecord,
    ) -> Result<Removal> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let (exists, keys): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM access_keys WHERE id = ?1 AND project_id = ?2),
                    (SELECT COUNT(*) FROM access_keys WHERE project_id = ?2)",
        )
        .bind(id)
        .bind(project_id)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Ok(Removal::NotFound);
        }
        if keys == 1 && !force {
            return Ok(Removal::InUse(1));
        }
        sqlx::query("DELETE FROM access_keys WHERE id = ? AND project_id = ?")
            .bind(id)
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Removal::Removed)
    }
}
