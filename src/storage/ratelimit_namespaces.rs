//! Namespaces of the standalone rate limit.

use super::Result;
use async_trait::async_trait;

#[async_trait]
pub trait NamespaceStore {
    async fn find_ratelimit_namespace(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<String>>;

    /// Creates a namespace, or returns the one a concurrent request created.
    async fn create_ratelimit_namespace(
        &self,
        id: &str,
        workspace_id: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<String>;
}
