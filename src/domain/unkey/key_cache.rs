//! What the verify path caches of a key, by the hash of its secret. Every
//! write to a key invalidates it at once (see [`crate::domain::cache`]).
//!
//! The cache holds every key when it can (it is filled at start, see
//! [`super::key_index`]), so its entry is kept small: about 240 bytes with
//! the cache's own, for a key with no name, owner, meta or environment.

use crate::storage::{KeyRatelimit, VerifiableKeyRow};
use std::collections::HashSet;
use std::sync::Arc;

/// What verification needs of a key. `remaining` is not here: it changes on
/// every use, so limited keys always go to storage for it.
#[derive(Debug)]
pub struct CachedKey {
    pub id: Box<str>,
    /// Shared by the keys of a workspace loaded together (see [`Interner`]).
    pub workspace_id: Arc<str>,
    pub api_id: Arc<str>,
    pub enabled: bool,
    /// Whether the key has a usage limit.
    pub limited: bool,
    pub expires_at: Option<i64>,
    pub ratelimit: Option<Box<KeyRatelimit>>,
    /// Effective permissions: direct and through roles.
    pub permissions: Box<[String]>,
    /// What only a valid key's answer shows, when the key has any of it.
    pub details: Option<Box<KeyDetails>>,
}

#[derive(Debug, Default)]
pub struct KeyDetails {
    pub name: Option<String>,
    pub owner_id: Option<String>,
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub environment: Option<String>,
}

impl CachedKey {
    /// The key as storage read it; its workspace and api ids shared through
    /// `share` (an [`Interner`] when many keys are loaded, else `Arc::from`).
    pub fn of_row(row: VerifiableKeyRow, mut share: impl FnMut(String) -> Arc<str>) -> CachedKey {
        let details = KeyDetails {
            name: row.name,
            owner_id: row.owner_id,
            meta: row
                .meta
                .as_deref()
                .and_then(|meta| serde_json::from_str(meta).ok()),
            environment: row.environment,
        };
        let has_details = details.name.is_some()
            || details.owner_id.is_some()
            || details.meta.is_some()
            || details.environment.is_some();
        CachedKey {
            id: row.id.into_boxed_str(),
            workspace_id: share(row.workspace_id),
            api_id: share(row.api_id),
            enabled: row.enabled,
            limited: row.limited,
            expires_at: row.expires_at,
            ratelimit: row.ratelimit.map(Box::new),
            permissions: row.effective_permissions.into_boxed_slice(),
            details: has_details.then(|| Box::new(details)),
        }
    }

    pub fn details(&self) -> &KeyDetails {
        static NONE: KeyDetails = KeyDetails {
            name: None,
            owner_id: None,
            meta: None,
            environment: None,
        };
        self.details.as_deref().unwrap_or(&NONE)
    }
}

/// One shared copy of each id: a million keys of one api hold one string.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Arc<str>>);

impl Interner {
    pub fn intern(&mut self, id: String) -> Arc<str> {
        if let Some(shared) = self.0.get(id.as_str()) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(id);
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

/// Verification's cache: keys by the SHA-256 of their secret.
pub type KeyCache = crate::domain::cache::Cache<[u8; 32], CachedKey>;

/// A stored hash as a cache key; `None` for a malformed one, which no cache holds.
pub fn hash_key(hash: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(hash).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_key_stays_small() {
        // The cache's entry for a key is this, behind an Arc, plus the id.
        assert!(std::mem::size_of::<CachedKey>() <= 104);
    }
}
