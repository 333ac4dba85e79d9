//! Sinch access keys, per project.

use super::{AuditRecord, Result};
use async_trait::async_trait;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessKeyRow {
    pub id: String,
    pub project_id: String,
    pub display_name: String,
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An access key to insert; `secret_hash` is the SHA-256 of the secret.
pub struct NewAccessKey<'a> {
    pub id: &'a str,
    pub project_id: &'a str,
    pub display_name: &'a str,
    pub secret_hash: &'a [u8],
    pub created_at: i64,
}

/// The outcome of inserting an access key.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertAccessKey {
    Inserted,
    /// Another key of the project has this display name.
    NameTaken,
    /// The project has as many keys as it may.
    LimitReached,
}

/// The outcome of renaming an access key.
#[derive(Debug, PartialEq, Eq)]
pub enum RenameAccessKey {
    Renamed,
    /// Another key of the project has this display name.
    NameTaken,
    /// No such key in the project.
    NotFound,
}

/// `taken` when a write failed on the unique display name, else the error.
pub(super) fn name_taken_or<T>(error: sqlx::Error, taken: T) -> Result<T> {
    match super::StorageError::from(error) {
        e if e.is_unique_violation() => Ok(taken),
        e => Err(e),
    }
}

#[async_trait]
pub trait AccessKeyStore {
    async fn find_access_key(&self, id: &str) -> Result<Option<AccessKeyRow>>;

    /// Inserts a key unless the project already has `limit` keys, even
    /// against concurrent creates.
    async fn insert_access_key(
        &self,
        key: &NewAccessKey<'_>,
        limit: i64,
        audit: &AuditRecord,
    ) -> Result<InsertAccessKey>;

    /// A page of a project's keys in creation order, after `after`.
    async fn list_access_keys(
        &self,
        project_id: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<AccessKeyRow>>;

    async fn rename_access_key(
        &self,
        project_id: &str,
        id: &str,
        display_name: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<RenameAccessKey>;

    /// Returns false when the project has no such key.
    async fn delete_access_key(
        &self,
        project_id: &str,
        id: &str,
        audit: &AuditRecord,
    ) -> Result<bool>;
}
