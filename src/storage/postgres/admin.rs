//! Operator-side state in PostgreSQL: workspaces, root keys, roles,
//! projects.

use super::PgStorage;
use crate::storage::audit;
use crate::storage::keys::names;
use crate::storage::{
    AdminStore, AuditRecord, NewRole, NewRootKey, ProjectRow, Removal, Result, RoleRow,
    RootKeyListRow, StorageError, WorkspaceRow,
};
use async_trait::async_trait;

#[async_trait]
impl AdminStore for PgStorage {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn is_empty(&self) -> Result<bool> {
        let (empty,): (bool,) = sqlx::query_as(
            "SELECT NOT EXISTS (SELECT 1 FROM workspaces) AND NOT EXISTS (SELECT 1 FROM projects)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(empty)
    }

    async fn create_workspace(
        &self,
        id: &str,
        name: &str,
        created_at: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_workspace_enabled(
        &self,
        id: &str,
        enabled: bool,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("UPDATE workspaces SET enabled = $1 WHERE id = $2")
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
        let (exists,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        Ok(exists)
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

    async fn create_root_key(&self, key: &NewRootKey<'_>, audit: &AuditRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO root_keys (id, workspace_id, hash, start, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.id)
        .bind(key.workspace_id)
        .bind(key.hash)
        .bind(key.start)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO root_key_permissions (root_key_id, permission)
             SELECT $1, p FROM unnest($2::TEXT[]) AS p ON CONFLICT DO NOTHING",
        )
        .bind(key.id)
        .bind(key.permissions)
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_root_keys(&self, workspace_id: &str) -> Result<Vec<RootKeyListRow>> {
        let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT r.id, r.start,
                    COALESCE((SELECT json_agg(permission ORDER BY permission) FROM root_key_permissions
                      WHERE root_key_id = r.id)::text, '[]'),
                    r.created_at, r.last_used_at
               FROM root_keys r
              WHERE r.workspace_id = $1 AND r.deleted_at IS NULL
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
        let mut tx = self.pool.begin().await?;
        let revoked: Option<(String,)> = sqlx::query_as(
            "UPDATE root_keys SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL
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

    async fn record_root_key_use(&self, uses: &[(String, i64)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE root_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), u.at)
               FROM unnest($1::TEXT[], $2::BIGINT[]) AS u (id, at)
              WHERE root_keys.id = u.id",
        )
        .bind(uses.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())
        .bind(uses.iter().map(|(_, at)| *at).collect::<Vec<_>>())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_role(&self, role: &NewRole<'_>, audit: &AuditRecord) -> Result<()> {
        let NewRole {
            workspace_id,
            role_id,
            name,
            permissions,
            created_at,
            permission_ids,
        } = *role;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO roles (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(role_id)
        .bind(workspace_id)
        .bind(name)
        .bind(created_at)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(match StorageError::from(e) {
                e if e.is_unique_violation() => StorageError::Conflict(format!(
                    "role {name} already exists in workspace {workspace_id}"
                )),
                e => e,
            });
        }
        sqlx::query(
            "INSERT INTO permissions (id, workspace_id, name, created_at)
             SELECT id, $3, name, $4 FROM unnest($1::TEXT[], $2::TEXT[]) AS p (id, name)
             ON CONFLICT (workspace_id, name) DO NOTHING",
        )
        .bind(permission_ids)
        .bind(permissions)
        .bind(workspace_id)
        .bind(created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO role_permissions (role_id, permission_id)
             SELECT $1, id FROM permissions WHERE workspace_id = $2 AND name = ANY($3)
             ON CONFLICT DO NOTHING",
        )
        .bind(role_id)
        .bind(workspace_id)
        .bind(permissions)
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_roles(&self, workspace_id: &str) -> Result<Vec<RoleRow>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT r.id, r.name,
                    COALESCE((SELECT json_agg(p.name ORDER BY p.name) FROM role_permissions rp
                       JOIN permissions p ON p.id = rp.permission_id
                      WHERE rp.role_id = r.id)::text, '[]'),
                    (SELECT COUNT(*) FROM key_roles kr JOIN keys k ON k.id = kr.key_id
                      WHERE kr.role_id = r.id AND k.deleted_at IS NULL)
               FROM roles r WHERE r.workspace_id = $1 ORDER BY r.name",
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

    async fn delete_role(
        &self,
        workspace_id: &str,
        name: &str,
        force: bool,
        audit: &AuditRecord,
    ) -> Result<Removal> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(String,)> =
            sqlx::query_as("SELECT id FROM roles WHERE workspace_id = $1 AND name = $2 FOR UPDATE")
                .bind(workspace_id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((role_id,)) = found else {
            return Ok(Removal::NotFound);
        };
        let (keys,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM key_roles kr JOIN keys k ON k.id = kr.key_id
              WHERE kr.role_id = $1 AND k.deleted_at IS NULL",
        )
        .bind(&role_id)
        .fetch_one(&mut *tx)
        .await?;
        if keys > 0 && !force {
            return Ok(Removal::InUse(keys));
        }
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(&role_id)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Removal::Removed)
    }

    async fn create_project(
        &self,
        id: &str,
        name: &str,
        created_at: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn project_exists(&self, id: &str) -> Result<bool> {
        let (exists,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        Ok(exists)
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

    async fn revoke_access_key(
        &self,
        project_id: &str,
        id: &str,
        force: bool,
        audit: &AuditRecord,
    ) -> Result<Removal> {
        let mut tx = self.pool.begin().await?;
        // The project's lock orders this against creates and other revokes.
        if !super::access_keys::lock_project(&mut tx, project_id).await? {
            return Ok(Removal::NotFound);
        }
        let (exists, keys): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM access_keys WHERE id = $1 AND project_id = $2),
                    (SELECT COUNT(*) FROM access_keys WHERE project_id = $2)",
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
        sqlx::query("DELETE FROM access_keys WHERE id = $1 AND project_id = $2")
            .bind(id)
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Removal::Removed)
    }
}
