//! OAuth2 client credentials: an access key's id and secret are exchanged
//! for a signed JWT (HS256) with `exp`, `iat`, `sub` (the key id),
//! `project_id` and `jti`. Expiry is checked against keyward's clock, so
//! tests can move it.

use super::{Error, Result, Sinch};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// A key file holds at least this many bytes of key.
const MIN_KEY_BYTES: usize = 32;

/// Reads the token signing key from `path` (standard base64 on one line),
/// creating the file with a new random key, readable by its owner only,
/// when it does not exist. The second value warns when others may read it.
pub fn signing_key_from_file(path: &std::path::Path) -> anyhow::Result<(Vec<u8>, Option<String>)> {
    use crate::private_file::{PrivateFile, open_private};
    use anyhow::Context;
    use base64::Engine;
    use std::io::Write;
    let engine = base64::engine::general_purpose::STANDARD;
    let opened = open_private(path, "the token signing key")
        .with_context(|| format!("creating {}", path.display()))?;
    match opened {
        PrivateFile::Created(mut file) => {
            let mut key = vec![0u8; MIN_KEY_BYTES];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            writeln!(file, "{}", engine.encode(&key))
                .with_context(|| format!("writing the token signing key to {}", path.display()))?;
            Ok((key, None))
        }
        PrivateFile::Existing { warning } => {
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
            Ok((key, warning))
        }
    }
}

pub struct SigningKey {
    encoding: EncodingKey,
    pub(super) decoding: DecodingKey,
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

impl Sinch {
    /// Issues a token for a client's credentials. Its errors are the
    /// domain's: the token endpoint speaks them as RFC 6749's.
    pub async fn issue_token(&self, request: TokenRequest) -> Result<IssuedToken> {
        let grant_type = request
            .grant_type
            .ok_or_else(|| Error::InvalidArgument("grant_type is required".into()))?;
        let (id, secret) = match (request.basic, request.client_id, request.client_secret) {
            (Some((id, secret)), None, None) => (id, secret),
            (None, Some(id), Some(secret)) => (id, secret),
            (Some(_), _, _) => {
                return Err(Error::InvalidArgument(
                    "authenticate the client one way: Basic or the form".into(),
                ));
            }
            (None, _, _) => {
                return Err(Error::unauthenticated(
                    "client authentication is required: HTTP Basic, or client_id and client_secret",
                ));
            }
        };
        let caller = match self.check_secret(&id, &secret).await {
            Ok(caller) => caller,
            Err(Error::Storage(e)) => return Err(Error::Storage(e)),
            Err(_) => return Err(Error::unauthenticated("invalid client credentials")),
        };
        if grant_type != "client_credentials" {
            return Err(Error::Unsupported(format!(
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
        .map_err(|e| Error::Internal(format!("signing the token failed: {e}")))?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.settings.token_lifetime_secs,
        })
    }
}
