//! OAuth2 client credentials: an access key's id and secret are exchanged
//! for a JWT signed with the current Ed25519 key (`EdDSA`, with its `kid` in
//! the header; see `signing.rs`), with `iss`, `exp`, `iat`, `sub` (the key
//! id), `project_id` and `jti`. Expiry is checked against keyward's clock,
//! so tests can move it.

use super::{Error, Result, Sinch};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// keyward's issuer URL (`--token-issuer`).
    pub iss: String,
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

impl TokenRequest {
    /// The client's id and secret, given one way: Basic or the form.
    pub fn client_credentials(&self) -> Result<(String, String)> {
        match (&self.basic, &self.client_id, &self.client_secret) {
            (Some((id, secret)), None, None) => Ok((id.clone(), secret.clone())),
            (None, Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
            (Some(_), _, _) => Err(Error::InvalidArgument(
                "authenticate the client one way: Basic or the form".into(),
            )),
            (None, _, _) => Err(Error::unauthenticated(
                "client authentication is required: HTTP Basic, or client_id and client_secret",
            )),
        }
    }
}

/// The last token minted for an access key. Claims are precise to the
/// second, so a client that asks again within the same second, under the
/// same signing key, gets that token again: minting one (an Ed25519
/// signature, about 11 µs) is the costly part of the endpoint, and a client
/// that asks for a token per call would otherwise pay it every time.
pub(super) struct RecentToken {
    iat: i64,
    kid: String,
    token: String,
}

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
}

impl Sinch {
    /// Issues a token for a client's credentials. Its errors are the
    /// domain's: the token endpoint speaks them as RFC 6749's.
    pub async fn issue_token(&self, request: TokenRequest) -> Result<IssuedToken> {
        let issued = self.mint_token(request).await;
        self.metrics.token(match &issued {
            Ok((_, true)) => "reused",
            Ok((_, false)) => "issued",
            Err(Error::Unauthenticated { .. }) => "invalid_client",
            Err(Error::InvalidArgument(_)) => "invalid_request",
            Err(Error::Unsupported(_)) => "unsupported_grant_type",
            Err(_) => "error",
        });
        issued.map(|(token, _)| token)
    }

    /// The token, and whether it is the one minted for the key in this
    /// same second.
    async fn mint_token(&self, request: TokenRequest) -> Result<(IssuedToken, bool)> {
        let grant_type = request
            .grant_type
            .as_deref()
            .ok_or_else(|| Error::InvalidArgument("grant_type is required".into()))?;
        let caller = self.authenticate_client(&request).await?;
        if grant_type != "client_credentials" {
            return Err(Error::Unsupported(format!(
                "grant_type {grant_type} is not supported; use client_credentials"
            )));
        }
        let iat = self.now().div_euclid(1000);
        let keys = self.key_ring();
        let key = keys.current();
        let expires_in = self.settings.token_lifetime_secs;
        if let Some(recent) = self.recent_tokens.get(&caller.access_key_id)
            && recent.iat == iat
            && recent.kid == key.kid
        {
            let token = IssuedToken {
                access_token: recent.token.clone(),
                expires_in,
            };
            return Ok((token, true));
        }
        let access_key_id = caller.access_key_id.clone();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            sub: caller.access_key_id,
            project_id: caller.project_id,
            iat,
            exp: iat + self.settings.token_lifetime_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let access_token = key
            .sign(&claims)
            .map_err(|e| Error::Internal(format!("signing the token failed: {e}")))?;
        let recent = RecentToken {
            iat,
            kid: key.kid.clone(),
            token: access_token.clone(),
        };
        self.recent_tokens.insert(access_key_id, Arc::new(recent));
        let token = IssuedToken {
            access_token,
            expires_in,
        };
        Ok((token, false))
    }
}
