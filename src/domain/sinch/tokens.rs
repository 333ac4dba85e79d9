//! OAuth2 client credentials: an access key's id and secret are exchanged
//! for a signed JWT (HS256) with `exp`, `iat`, `sub` (the key id),
//! `project_id` and `jti`. Expiry is checked against keyward's clock, so
//! tests can move it.

use super::{Error, Result, Sinch};
use crate::domain::secrets;
use crate::storage::StorageError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How far in the future a token's `iat` may lie: clocks of the nodes that
/// issue and check a token may differ this much.
const CLOCK_SKEW_SECS: i64 = 60;
/// A key file holds at least this many bytes of key.
const MIN_KEY_BYTES: usize = 32;

/// Reads the token signing key from `path` (standard base64 on one line),
/// creating the file with a new random key, readable by its owner only,
/// when it does not exist. The second value warns when others may read it.
pub fn signing_key_from_file(path: &std::path::Path) -> anyhow::Result<(Vec<u8>, Option<String>)> {
    use anyhow::Context;
    use base64::Engine;
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let engine = base64::engine::general_purpose::STANDARD;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let mut key = vec![0u8; MIN_KEY_BYTES];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            writeln!(file, "{}", engine.encode(&key))
                .with_context(|| format!("writing the token signing key to {}", path.display()))?;
            Ok((key, None))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the token signing key {}", path.display()))?;
            let key = engine.decode(text.trim()).with_context(|| {
                format!("{} must hold the key in base64 on one line", path.display())
            })?;
            if key.len() < MIN_KEY_BYTES {
                anyhow::bail!(
                    "{} holds {} bytes of key; a signing key needs at least {MIN_KEY_BYTES}",
                    path.display(),
                    key.len()
                );
            }
            let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
            let warning = (mode & 0o077 != 0).then(|| {
                format!(
                    "{} has mode {mode:o}: other users can read the token signing key; run chmod 600 on it",
                    path.display()
                )
            });
            Ok((key, warning))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    pub fn new(secret: &[u8]) -> SigningKey {
        SigningKey {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The access key the token was issued to.
    pub sub: String,
    pub project_id: String,
    /// Unix seconds.
    pub iat: i64,
    /// Unix seconds.
    pub exp: i64,
    pub jti: String,
}

/// A token request, as `POST /oauth2/token` received it.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    /// Credentials from an `Authorization: Basic` header.
    pub basic: Option<(String, String)>,
    /// Credentials from the form body.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
}

/// The errors of RFC 6749 §5.2.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    /// Unknown or wrong client credentials, or none.
    #[error("{0}")]
    InvalidClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// keyward could not sign the token: a server fault, never the client's.
    #[error("signing the token failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Sinch {
    pub async fn issue_token(
        &self,
        request: TokenRequest,
    ) -> std::result::Result<IssuedToken, TokenError> {
        let grant_type = request
            .grant_type
            .ok_or_else(|| TokenError::InvalidRequest("grant_type is required".into()))?;
        let (id, secret) = match (request.basic, request.client_id, request.client_secret) {
            (Some((id, secret)), None, None) => (id, secret),
            (None, Some(id), Some(secret)) => (id, secret),
            (Some(_), _, _) => {
                return Err(TokenError::InvalidRequest(
                    "authenticate the client one way: Basic or the form".into(),
                ));
            }
            (None, _, _) => {
                return Err(TokenError::InvalidClient(
                    "client authentication is required: HTTP Basic, or client_id and client_secret"
                        .into(),
                ));
            }
        };
        let caller = match self.check_secret(&id, &secret).await {
            Ok(caller) => caller,
            Err(Error::Storage(e)) => return Err(TokenError::Storage(e)),
            Err(_) => {
                return Err(TokenError::InvalidClient(
                    "invalid client credentials".into(),
                ));
            }
        };
        if grant_type != "client_credentials" {
            return Err(TokenError::UnsupportedGrantType(format!(
                "grant_type {grant_type} is not supported; use client_credentials"
            )));
        }
        let iat = self.now().div_euclid(1000);
        let claims = Claims {
            sub: caller.access_key_id,
            project_id: caller.project_id,
            iat,
            exp: iat + self.settings.token_lifetime_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let access_token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.signing_key.encoding,
        )
        .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.settings.token_lifetime_secs,
        })
    }

    /// Checks a token's signature and expiry.
    pub async fn verify_token(&self, token: &str) -> Result<Arc<Claims>> {
        // A token's signature and claims never change, so a token checked
        // once is known by its digest; expiry is checked every time.
        let digest = secrets::hash(token);
        let load = async { self.decode_token(token).map(Some) };
        let claims = self
            .verified_tokens
            .get_or_load(&digest, load)
            .await?
            .ok_or_else(|| Error::unauthenticated("the token is not valid"))?;
        if claims.exp <= self.now().div_euclid(1000) {
            return Err(Error::Unauthenticated {
                message: "token expired".into(),
                expired: true,
            });
        }
        Ok(claims)
    }

    /// Checks a token's signature and reads its claims. A token that claims
    /// to live longer than keyward issues them, or to be issued in the
    /// future, was not issued by keyward: it is refused even when signed.
    fn decode_token(&self, token: &str) -> Result<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked by the caller, against keyward's clock.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.signing_key.decoding, &validation)
            .map_err(|_| Error::unauthenticated("the token is not valid"))?
            .claims;
        if claims.exp.saturating_sub(claims.iat) > self.settings.token_lifetime_secs {
            return Err(Error::unauthenticated(
                "the token is not valid: it lives longer than tokens are issued for",
            ));
        }
        if claims.iat > self.now().div_euclid(1000) + CLOCK_SKEW_SECS {
            return Err(Error::unauthenticated(
                "the token is not valid: it is issued in the future",
            ));
        }
        Ok(claims)
    }
}
