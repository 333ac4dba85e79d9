//! The Sinch side of keyward: per-project access keys, and the OAuth2
//! client-credentials tokens they are exchanged for.
//!
//! [`Sinch`] holds what outlives a request: storage, the clock, the token
//! signing key and the settings.

pub mod access_keys;
pub mod auth;
pub mod error;
pub mod tokens;

pub use auth::Caller;
pub use error::{Error, Result};

use crate::domain::cache::Cache;
use crate::domain::clock::Clock;
use crate::storage::{AccessKeyRow, Change, Storage};
use rand::RngCore;
use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long an access token lives.
    pub token_lifetime_secs: i64,
    pub max_access_keys_per_project: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_lifetime_secs: 3600,
            max_access_keys_per_project: 10,
        }
    }
}

pub struct Sinch {
    storage: Storage,
    clock: Arc<dyn Clock>,
    signing_key: tokens::SigningKey,
    settings: Settings,
    /// Access keys by id, for authentication and reads. Renames and deletes
    /// made here invalidate them at once; those made by other processes,
    /// through the change log.
    keys: Cache<String, AccessKeyRow>,
    /// Claims of tokens whose signature has been checked, by the token's
    /// SHA-256: checking one is the costly part of a bearer request.
    verified_tokens: Cache<[u8; 32], tokens::Claims>,
}

const ACCESS_KEY_CACHE_CAPACITY: usize = 100_000;
const VERIFIED_TOKEN_CACHE_CAPACITY: usize = 100_000;

impl std::fmt::Debug for Sinch {
    // Leaves the signing key out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinch")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Sinch {
    /// With `signing_key` (from `--token-signing-key-file`), or else with the
    /// key kept in the database, made on first start.
    pub async fn new(
        storage: Storage,
        clock: Arc<dyn Clock>,
        settings: Settings,
        signing_key: Option<Vec<u8>>,
    ) -> Result<Sinch> {
        let secret = match signing_key {
            Some(key) => key,
            None => {
                let mut candidate = [0u8; 32];
                rand::rng().fill_bytes(&mut candidate);
                storage
                    .load_or_create_token_signing_key(&candidate, clock.now_ms())
                    .await?
            }
        };
        Ok(Sinch {
            storage,
            clock,
            signing_key: tokens::SigningKey::new(&secret),
            settings,
            keys: Cache::new(ACCESS_KEY_CACHE_CAPACITY),
            verified_tokens: Cache::new(VERIFIED_TOKEN_CACHE_CAPACITY),
        })
    }

    /// Drops what a change made stale (see [`crate::domain::changes`]).
    pub fn apply_change(&self, change: &Change) {
        if let Change::AccessKey(id) = change {
            self.keys.invalidate([id.clone()]);
        }
    }

    /// Drops every cached access key: for a process that missed changes.
    pub fn forget_everything(&self) {
        self.keys.clear();
    }

    /// An access key by id, from the cache or else from storage.
    async fn access_key(&self, id: &str) -> Result<Option<Arc<AccessKeyRow>>> {
        let load = async { Ok(self.storage.find_access_key(id).await?) };
        self.keys.get_or_load(id, load).await
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
