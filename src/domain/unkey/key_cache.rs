//! What the verify path caches of a key, by the hash of its secret. Every
//! write to a key invalidates it at once (see [`crate::domain::cache`]).

/// What verification needs of a key. `remaining` is not here: it changes on
/// every use, so limited keys always go to storage for it.
#[derive(Debug)]
pub struct CachedKey {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub name: Option<String>,
    pub owner_id: Option<String>,
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub environment: Option<String>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// Whether the key has a usage limit.
    pub limited: bool,
    pub ratelimit: Option<crate::storage::KeyRatelimit>,
    /// Effective permissions: direct and through roles.
    pub permissions: Vec<String>,
}

/// Verification's cache: keys by the SHA-256 of their secret.
pub type KeyCache = crate::domain::cache::Cache<[u8; 32], CachedKey>;

/// A stored hash as a cache key; `None` for a malformed one, which no cache holds.
pub fn hash_key(hash: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(hash).ok()
}
