//! Operator-side state: workspaces, root keys, roles and projects, as the
//! CLI and the first-start bootstrap create, list and revoke them.

use super::{AuditRecord, Result};
use async_trait::async_trait;

/// A root key to insert; `hash` is the SHA-256 of the key.
pub struct NewRootKey<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub hash: &'a [u8],
    pub start: &'a str,
    pub permissions: &'a [String],
    pub created_at: i64,
}

/// A workspace as `keyward workspace list` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub created_at: i64,
    /// Live apis.
    pub apis: i64,
    /// Live root keys.
    pub root_keys: i64,
}

/// A live root key, without its hash.
#[derive(Debug, Clone)]
pub struct RootKeyListRow {
    pub id: String,
    pub start: String,
    pub permissions: Vec<String>,
    pub created_at: i64,
    /// To the minute.
    pub last_used_at: Option<i64>,
}

/// A role with its permissions and how many live keys hold it.
#[derive(Debug, Clone)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub keys: i64,
}

/// A project with how many access keys it has.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub access_keys: i64,
}

/// The outcome of deleting something others may depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NotFound,
    /// Refused without force: this many keys hold the role, or it is the
    /// project's last access key.
    InUse(i64),
}

/// A role to create, with its permissions: those the workspace lacks are
/// created with ids from `permission_ids`.
#[derive(Debug, Clone, Copy)]
pub struct NewRole<'a> {
    pub workspace_id: &'a str,
    pub role_id: &'a str,
    pub name: &'a str,
    pub permissions: &'a [String],
    pub created_at: i64,
    pub permission_ids: &'a [String],
}

#[async_trait]
pub trait AdminStore {
    /// A round trip to the database: readiness.
    async fn ping(&self) -> Result<()>;

    /// Whether the database holds neither a workspace nor a project: a first start.
    async fn is_empty(&self) -> Result<bool>;

    async fn create_workspace(
        &self,
        id: &str,
        name: &str,
        created_at: i64,
        audit: &AuditRecord,
    ) -> Result<()>;

    /// Returns false when no such workspace exists.
    async fn set_workspace_enabled(
        &self,
        id: &str,
        enabled: bool,
        audit: &AuditRecord,
    ) -> Result<bool>;

    async fn workspace_exists(&self, id: &str) -> Result<bool>;

    async fn list_workspaces(&self) -> Result<Vec<WorkspaceRow>>;

    async fn create_root_key(&self, key: &NewRootKey<'_>, audit: &AuditRecord) -> Result<()>;

    /// The workspace's live root keys, oldest first.
    async fn list_root_keys(&self, workspace_id: &str) -> Result<Vec<RootKeyListRow>>;

    /// Revokes a live root key. Returns false when there is no such key.
    async fn revoke_root_key(&self, id: &str, now_ms: i64, audit: &AuditRecord) -> Result<bool>;

    /// Records when root keys were last used: (id, unix ms) pairs.
    async fn record_root_key_use(&self, uses: &[(String, i64)]) -> Result<()>;

    /// Creates a role with its permissions, creating the permissions that the
    /// workspace does not have yet, with ids from `permission_ids`. A name
    /// already taken is a [`super::StorageError::Conflict`].
    async fn create_role(&self, role: &NewRole<'_>, audit: &AuditRecord) -> Result<()>;

    /// The workspace's roles by name.
    async fn list_roles(&self, workspace_id: &str) -> Result<Vec<RoleRow>>;

    /// Deletes a role of the workspace; keys that hold it lose its
    /// permissions. Without `force`, a role that live keys hold is kept.
    async fn delete_role(
        &self,
        workspace_id: &str,
        name: &str,
        force: bool,
        audit: &AuditRecord,
    ) -> Result<Removal>;

    async fn create_project(
        &self,
        id: &str,
        name: &str,
        created_at: i64,
        audit: &AuditRecord,
    ) -> Result<()>;

    async fn project_exists(&self, id: &str) -> Result<bool>;

    async fn list_projects(&self) -> Result<Vec<ProjectRow>>;

    /// Deletes an access key of the project. Without `force`, the project's
    /// last key is kept: deleting it locks the project's callers out.
    async fn revoke_access_key(
        &self,
        project_id: &str,
        id: &str,
        force: bool,
        audit: &AuditRecord,
    ) -> Result<Removal>;
}
