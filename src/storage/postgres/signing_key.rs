//! The token signing key in PostgreSQL.

use super::PgStorage;
use crate::storage::{Result, SigningKeyStore};
use async_trait::async_trait;

#[async_trait]
impl SigningKeyStore for PgStorage {
    async fn load_or_create_token_signing_key(
        &self,
        candidate: &[u8],
        now_ms: i64,
    ) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO token_signing_key (id, secret, created_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(candidate)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        let (secret,): (Vec<u8>,) =
            sqlx::query_as("SELECT secret FROM token_signing_key WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(secret)
    }
}
