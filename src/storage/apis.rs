//! Unkey apis: the keyspaces keys belong to.

use super::{AuditRecord, Result};
use async_trait::async_trait;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
}

#[async_trait]
pub trait ApiStore {
    async fn create_api(
        &self,
        id: &str,
        workspace_id: &str,
        name: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<()>;

    /// A live api of the workspace.
    async fn find_api(&self, workspace_id: &str, api_id: &str) -> Result<Option<ApiRow>>;

    /// Soft-deletes an api and its live keys in one transaction. Returns the
    /// hashes of the keys it deleted, or `None` when there was no such api.
    async fn delete_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<Option<Vec<Vec<u8>>>>;
}
