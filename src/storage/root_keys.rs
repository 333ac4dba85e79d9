//! Root keys, as the Unkey API authenticates them.

use super::Result;
use async_trait::async_trait;

/// A live root key with what authorizing a request needs.
#[derive(Debug)]
pub struct RootKeyRow {
    pub id: String,
    pub workspace_id: String,
    pub workspace_enabled: bool,
    pub permissions: Vec<String>,
}

#[async_trait]
pub trait RootKeyStore {
    /// A live root key by its hash, with its workspace's state and its
    /// permissions.
    async fn find_root_key(&self, hash: &[u8]) -> Result<Option<RootKeyRow>>;

    /// Ids of the disabled workspaces.
    async fn disabled_workspaces(&self) -> Result<Vec<String>>;
}
