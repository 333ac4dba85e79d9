//! Who calls the Sinch API: HTTP Basic with an access key's id and secret,
//! or a bearer token that keyward issued for one. Every check of a Sinch
//! credential is here; `tokens.rs` issues the tokens.

use super::signing::CLOCK_SKEW_SECS;
use super::tokens::{Claims, TokenRequest};
use super::{Error, Result, Sinch};
use crate::domain::Credential;
use crate::domain::audit::Actor;
use crate::domain::secrets;
use jsonwebtoken::{Algorithm, Validation};
use std::sync::Arc;

/// An authenticated caller: an access key of a project.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key_id: String,
    pub project_id: String,
}

impl Caller {
    /// This access key as the actor of changes made in request `request_id`.
    pub fn acting<'a>(&'a self, request_id: &'a str) -> Actor<'a> {
        Actor {
            id: &self.access_key_id,
            request_id: Some(request_id),
        }
    }

    /// Credentials work only on their own project's paths, whether or not
    /// the other project exists.
    pub fn require_project(&self, project_id: &str) -> Result<()> {
        if self.project_id == project_id {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "these credentials are not for project {project_id}"
            )))
        }
    }
}

impl Sinch {
    /// Authenticates a request's credential, Basic or Bearer.
    pub async fn authenticate(&self, credential: Option<Credential>) -> Result<Caller> {
        let credential =
            credential.ok_or_else(|| Error::unauthenticated("credentials are required"))?;
        if let Credential::Basic { id, secret } = &credential {
            return self.check_secret(id, secret).await;
        }
        if let Credential::Bearer(token) = &credential {
            return self.authenticate_token(token).await;
        }
        Err(Error::unauthenticated("use HTTP Basic or a Bearer token"))
    }

    /// The caller a bearer token stands for: its signature and expiry hold,
    /// and its access key still exists. Deleting a key revokes its tokens at
    /// once.
    pub async fn authenticate_token(&self, token: &str) -> Result<Caller> {
        self.live_token(token).await.map(|(_, caller)| caller)
    }

    /// A live token's claims and the caller it stands for.
    pub(super) async fn live_token(&self, token: &str) -> Result<(Arc<Claims>, Caller)> {
        let claims = self.verify_token(token).await?;
        match self.access_key(&claims.sub).await? {
            Some(key) if key.project_id == claims.project_id => {
                let caller = Caller {
                    access_key_id: key.id.clone(),
                    project_id: key.project_id.clone(),
                };
                Ok((claims, caller))
            }
            _ => Err(Error::unauthenticated(
                "the token's access key no longer exists",
            )),
        }
    }

    /// The client of an OAuth request (a token or an introspection): its
    /// credentials, given one way, must check out. Which part was wrong is
    /// not told.
    pub async fn authenticate_client(&self, request: &TokenRequest) -> Result<Caller> {
        let (id, secret) = request.client_credentials()?;
        match self.check_secret(&id, &secret).await {
            Err(Error::Storage(e)) => Err(Error::Storage(e)),
            Err(_) => Err(Error::unauthenticated("invalid client credentials")),
            checked => checked,
        }
    }

    /// Checks an access key's id and secret, comparing digests in constant time.
    pub async fn check_secret(&self, access_key_id: &str, secret: &str) -> Result<Caller> {
        let key = self.access_key(access_key_id).await?;
        // Hash even for an unknown id, so both answers take as long.
        let presented = secrets::hash(secret);
        match key {
            Some(key) if secrets::digests_match(&presented, &key.secret_hash) => Ok(Caller {
                access_key_id: key.id.clone(),
                project_id: key.project_id.clone(),
            }),
            _ => Err(Error::unauthenticated("invalid access key id or secret")),
        }
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
        let invalid = || Error::unauthenticated("the token is not valid");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg == Algorithm::HS256 {
            // Signed before keyward moved to EdDSA: it is answered as
            // expired, so that every SDK fetches a new token and retries.
            return Err(Error::Unauthenticated {
                message: "token expired: it was signed with HS256, which keyward no longer accepts"
                    .into(),
                expired: true,
            });
        }
        let keys = self.key_ring();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| keys.checking(kid, self.now(), self.settings.token_lifetime_secs))
            .ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Expiry is checked by the caller, against keyward's clock.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[&self.settings.issuer]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|_| invalid())?
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
