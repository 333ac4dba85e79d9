//! The token signing key in SQLite.

use super::SqliteStorage;
use crate::storage::{Result, SigningKeyStore};
use async_trait::async_trait;

#[async_trait]
impl SigningKeyStore for SqliteStorage {
    async fn load_or_create_token_signing_key(
        &self,
        candidate: &[u8],
        now_ms: i64,
    ) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT OR IGNORE INTO token_signing_key (id, secret, created_at) VALUES (1, ?, ?)",
        )
        .bind(candidate)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        let (secret,): (Vec<u8>,) =
            sqlx::query_as("SELECT secret FROM token_signing_key WHERE id = 1")
                .fetch_one(&self.writer)
                .await?;
        Ok(secret)
    }
}
