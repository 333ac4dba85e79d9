//! Apis: create, read, delete (with their keys).

use super::key_cache::hash_key;
use super::permissions::Query;
use super::{Error, Result, RootKey, Unkey};
use crate::domain::audit::{self, Scope, Summary};
use crate::domain::ids::new_id;
use crate::storage::ApiRow;

impl Unkey {
    pub async fn create_api(&self, root: &RootKey, name: &str, request_id: &str) -> Result<String> {
        root.require(&Query::any_of(["*", "api.*.create_api"]))?;
        if name.chars().count() < 3 {
            return Err(Error::Invalid("name: must be at least 3 characters".into()));
        }
        let now = self.now();
        let api_id = new_id("api", now);
        let record = audit::record(
            root.acting(request_id),
            now,
            "api.create",
            &api_id,
            Scope::Workspace(&root.workspace_id),
            Summary::new().set("name", name),
        );
        self.storage
            .create_api(&api_id, &root.workspace_id, name, now, &record)
            .await?;
        Ok(api_id)
    }

    pub async fn get_api(&self, root: &RootKey, api_id: &str) -> Result<ApiRow> {
        root.require_on("api", api_id, "read_api")?;
        self.find_api(root, api_id).await
    }

    /// Soft-deletes the api and its keys; none of them verifies again.
    pub async fn delete_api(&self, root: &RootKey, api_id: &str, request_id: &str) -> Result<()> {
        root.require_on("api", api_id, "delete_api")?;
        let now = self.now();
        let record = audit::record(
            root.acting(request_id),
            now,
            "api.delete",
            api_id,
            Scope::Workspace(&root.workspace_id),
            Summary::new(),
        );
        let hashes = self
            .storage
            .delete_api(&root.workspace_id, api_id, now, &record)
            .await?
            .ok_or_else(|| api_not_found(api_id))?;
        self.apis.invalidate([api_id.to_string()]);
        self.cache
            .invalidate(hashes.iter().filter_map(|h| hash_key(h)));
        Ok(())
    }

    /// A live api of the caller's workspace; another workspace's is a 404.
    pub(super) async fn find_api(&self, root: &RootKey, api_id: &str) -> Result<ApiRow> {
        let load = self.storage.find_api(&root.workspace_id, api_id);
        match self.apis.get_or_load(api_id, load).await? {
            // Cached by id: another workspace's api is still a 404.
            Some(api) if api.workspace_id == root.workspace_id => Ok(ApiRow::clone(&api)),
            _ => Err(api_not_found(api_id)),
        }
    }
}

pub(super) fn api_not_found(api_id: &str) -> Error {
    Error::NotFound(format!("api {api_id} not found"))
}
