//! The keys that sign access tokens, kept in the database so that every
//! node signs and checks with the same ones (unless `--token-signing-key-file`
//! keeps them out of the database). One is current; keys retired by a
//! rotation stay until the tokens they signed have expired.

use super::{AuditRecord, Result};
use async_trait::async_trait;

/// A stored signing key. `private_key` is PKCS#8: it is a secret.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub created_at: i64,
    /// When a rotation replaced it; `None` for the current key.
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    // Leaves the private key out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait SigningKeyStore {
    /// Every stored signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>>;

    /// Stores `first` when there is no key at all: the first node to start
    /// makes it, and every other node reads that one.
    async fn add_first_signing_key(&self, first: &SigningKeyRow) -> Result<()>;

    /// In one transaction: retires the current key at `now_ms`, makes
    /// `next` current, and deletes keys retired before `drop_retired_before`.
    async fn rotate_signing_key(
        &self,
        next: &SigningKeyRow,
        now_ms: i64,
        drop_retired_before: i64,
        audit: &AuditRecord,
    ) -> Result<()>;
}
