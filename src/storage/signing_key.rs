//! The key that signs access tokens, kept in the database so that every
//! node signs and checks with the same one (unless `--token-signing-key-file`
//! keeps it out of the database).

use super::Result;
use async_trait::async_trait;

#[async_trait]
pub trait SigningKeyStore {
    /// The token signing key: `candidate` is stored if there is none yet
    /// (the first node to start writes it), and whichever key is stored is
    /// returned.
    async fn load_or_create_token_signing_key(
        &self,
        candidate: &[u8],
        now_ms: i64,
    ) -> Result<Vec<u8>>;
}
