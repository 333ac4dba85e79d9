//! The Sinch side of keyward: per-project access keys, and the OAuth2
//! client-credentials tokens they are exchanged for.
//!
//! [`Sinch`] holds what outlives a request: storage, the clock, the token
//! signing key and the settings.

pub mod access_keys;
pub mod auth;
pub mod error;
pub mod introspection;
pub mod signing;
pub mod tokens;

pub use auth::Caller;
pub use error::{Error, Result};

use crate::domain::cache::Cache;
use crate::domain::clock::Clock;
use crate::metrics::SinchMetrics;
use crate::storage::{AccessKeyRow, Change, Storage};
use signing::{KeyRing, KeySource};
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long an access token lives.
    pub token_lifetime_secs: i64,
    pub max_access_keys_per_project: i64,
    /// The `iss` of every token, and the issuer of the metadata document:
    /// the URL clients reach keyward at.
    pub issuer: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_lifetime_secs: 3600,
            max_access_keys_per_project: 10,
            issuer: "http://127.0.0.1:8080".to_string(),
        }
    }
}

pub struct Sinch {
    storage: Storage,
    clock: Arc<dyn Clock>,
    key_source: KeySource,
    /// The signing keys; replaced whole when they are rotated.
    signing_keys: RwLock<Arc<KeyRing>>,
    settings: Settings,
    /// Access keys by id, for authentication and reads. Renames and deletes
    /// made here invalidate them at once; those made by other processes,
    /// through the change log.
    keys: Cache<String, AccessKeyRow>,
    /// Claims of tokens whose signature has been checked, by the token's
    /// SHA-256: checking one is the costly part of a bearer request.
    verified_tokens: Cache<[u8; 32], tokens::Claims>,
    /// The token minted last for each access key (see [`tokens::RecentToken`]).
    recent_tokens: quick_cache::sync::Cache<String, Arc<tokens::RecentToken>>,
    metrics: SinchMetrics,
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
    /// With the signing keys of `key_source`, made on first start.
    pub async fn new(
        storage: Storage,
        clock: Arc<dyn Clock>,
        settings: Settings,
        key_source: KeySource,
        metrics: SinchMetrics,
    ) -> Result<Sinch> {
        let keys = load_keys(&key_source, clock.now_ms()).await?;
        Ok(Sinch {
            storage,
            clock,
            key_source,
            signing_keys: RwLock::new(Arc::new(keys)),
            settings,
            keys: Cache::new(ACCESS_KEY_CACHE_CAPACITY, metrics.access_key_cache.clone()),
            verified_tokens: Cache::new(
                VERIFIED_TOKEN_CACHE_CAPACITY,
                metrics.verified_token_cache.clone(),
            ),
            recent_tokens: quick_cache::sync::Cache::new(ACCESS_KEY_CACHE_CAPACITY),
            metrics,
        })
    }

    /// Reads the signing keys again, after a rotation.
    pub async fn reload_signing_keys(&self) -> Result<()> {
        let keys = load_keys(&self.key_source, self.now()).await?;
        *self.signing_keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        Ok(())
    }

    /// The signing keys in force.
    fn key_ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.signing_keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The public keys that check tokens now, as a JWKS.
    pub fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        self.key_ring()
            .jwks(self.now(), self.settings.token_lifetime_secs)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Drops what a change made stale (see [`crate::domain::changes`]).
    pub async fn apply_change(&self, change: &Change) -> Result<()> {
        match change {
            Change::AccessKey(id) => self.keys.invalidate([id.clone()]),
            Change::SigningKeys => self.reload_signing_keys().await?,
            Change::Key(_)
            | Change::AllKeys
            | Change::Workspace(_)
            | Change::RootKey(_)
            | Change::Api(_) => {}
        }
        Ok(())
    }

    /// Drops every cached access key and reads the signing keys again: for
    /// a process that missed changes.
    pub async fn forget_everything(&self) -> Result<()> {
        self.keys.clear();
        self.reload_signing_keys().await
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

async fn load_keys(source: &KeySource, now_ms: i64) -> Result<KeyRing> {
    let rows = source
        .load(now_ms)
        .await
        .map_err(|e| Error::Internal(format!("loading the token signing keys: {e:#}")))?;
    KeyRing::from_rows(&rows)
        .map_err(|e| Error::Internal(format!("loading the token signing keys: {e:#}")))
}
