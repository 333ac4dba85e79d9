//! Token introspection (RFC 7662): an access key asks whether a token is
//! live. Only tokens of the asking key's own project are ever active to it.

use super::tokens::TokenRequest;
use super::{Error, Result, Sinch};

/// What introspection tells about a live token.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub sub: String,
    pub project_id: String,
    pub iss: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

impl Sinch {
    /// `Ok(None)` for a token that is not active for this client: expired,
    /// of a deleted access key, of another project, or not a token at all.
    /// An error only when the client itself does not authenticate.
    pub async fn introspect(
        &self,
        client: TokenRequest,
        token: &str,
    ) -> Result<Option<ActiveToken>> {
        let (id, secret) = client.client_credentials()?;
        let client = match self.check_secret(&id, &secret).await {
            Ok(client) => client,
            Err(Error::Storage(e)) => return Err(Error::Storage(e)),
            Err(_) => return Err(Error::unauthenticated("invalid client credentials")),
        };
        let caller = match self.authenticate_token(token).await {
            Ok(caller) => caller,
            Err(Error::Storage(e)) => return Err(Error::Storage(e)),
            Err(_) => return Ok(None),
        };
        if caller.project_id != client.project_id {
            return Ok(None);
        }
        let claims = self.verify_token(token).await?;
        Ok(Some(ActiveToken {
            sub: claims.sub.clone(),
            project_id: claims.project_id.clone(),
            iss: claims.iss.clone(),
            exp: claims.exp,
            iat: claims.iat,
            jti: claims.jti.clone(),
        }))
    }
}
