//! Root keys: who calls, for which workspace, with which permissions.

use super::permissions::Query;
use super::{Error, Result, Unkey};
use crate::domain::Credential;
use crate::domain::audit::Actor;
use crate::domain::secrets;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const MINUTE_MS: i64 = 60_000;

/// An authenticated root key.
#[derive(Debug)]
pub struct RootKey {
    pub id: String,
    pub workspace_id: String,
    permissions: HashSet<String>,
    /// The minute it was last recorded as used (see [`Unkey::authenticate`]).
    last_used_minute: AtomicI64,
}

impl RootKey {
    /// Passes when the key's permissions satisfy `query`; the 403 names it.
    pub fn require(&self, query: &Query) -> Result<()> {
        if query.allows(&|p| self.permissions.contains(p)) {
            Ok(())
        } else {
            Err(Error::Denied(format!(
                "this root key lacks the permission {query}"
            )))
        }
    }

    /// Passes when the key may do `action` on the resource `kind` `id`: it
    /// holds `*`, `{kind}.*.{action}` or `{kind}.{id}.{action}`. The names
    /// are built only when `*` does not decide it.
    pub fn require_on(&self, kind: &str, id: &str, action: &str) -> Result<()> {
        if self.has("*") {
            return Ok(());
        }
        self.require(&Query::any_of([
            "*".to_string(),
            format!("{kind}.*.{action}"),
            format!("{kind}.{id}.{action}"),
        ]))
    }

    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// This key as the actor of changes made in request `request_id`.
    pub fn acting<'a>(&'a self, request_id: &'a str) -> Actor<'a> {
        Actor {
            id: &self.id,
            request_id: Some(request_id),
        }
    }
}

impl Unkey {
    /// Authenticates a request's credential: a bearer root key.
    pub async fn authenticate(&self, credential: Option<&Credential>) -> Result<Arc<RootKey>> {
        let Some(Credential::Bearer(token)) = credential else {
            return Err(Error::Unauthenticated(
                "a root key is required: Authorization: Bearer <root key>".into(),
            ));
        };
        let hash = secrets::hash(token);
        // Root keys never change once made; only their workspace's state
        // does, which the disabled set below tracks.
        let load = async {
            let Some(row) = self.storage.find_root_key(&hash).await? else {
                return Ok(None);
            };
            if !row.workspace_enabled {
                return Err(Error::Denied("workspace is disabled".into()));
            }
            Ok(Some(RootKey {
                id: row.id,
                workspace_id: row.workspace_id,
                permissions: row.permissions.into_iter().collect(),
                last_used_minute: AtomicI64::new(0),
            }))
        };
        let root = self
            .root_keys
            .get_or_load(&hash, load)
            .await?
            .ok_or_else(|| Error::Unauthenticated("the root key is not valid".into()))?;
        if self.workspace_disabled(&root.workspace_id)? {
            return Err(Error::Denied("workspace is disabled".into()));
        }
        // Last use, to the minute: one record per key and minute, written
        // with the verification counts.
        let minute = self.now().div_euclid(MINUTE_MS) * MINUTE_MS;
        if root.last_used_minute.fetch_max(minute, Ordering::Relaxed) < minute
            && let Ok(mut uses) = self.root_key_uses.lock()
        {
            uses.push((root.id.clone(), minute));
        }
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, RootKey};
    use std::sync::atomic::AtomicI64;

    fn root_key(permissions: &[&str]) -> RootKey {
        RootKey {
            id: "key_root".into(),
            workspace_id: "ws_1".into(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            last_used_minute: AtomicI64::new(0),
        }
    }

    /// `*`, the kind's wildcard and the one resource each allow the action;
    /// anything else is a 403 naming all three.
    #[test]
    fn require_on_takes_star_the_wildcard_or_the_resource() {
        for granted in ["*", "api.*.read_key", "api.api_1.read_key"] {
            let allowed = root_key(&[granted]).require_on("api", "api_1", "read_key");
            assert!(allowed.is_ok(), "{granted}");
        }
        for granted in [
            "api.api_2.read_key",
            "api.api_1.update_key",
            "api.*.read_api",
        ] {
            let denied = root_key(&[granted]).require_on("api", "api_1", "read_key");
            match denied {
                Err(Error::Denied(message)) => assert_eq!(
                    message,
                    "this root key lacks the permission * or api.*.read_key or api.api_1.read_key"
                ),
                other => panic!("{granted}: {other:?}"),
            }
        }
    }
}
