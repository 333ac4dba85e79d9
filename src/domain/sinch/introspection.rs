//! Token introspection (RFC 7662): an access key asks whether a token is
//! live. Only tokens of the asking key's own project are ever active to it.

use super::tokens::{Claims, TokenRequest};
use super::{Error, Result, Sinch};
use std::sync::Arc;

impl Sinch {
    /// The claims of a token that is active for this client; `None` when it
    /// is expired, of a deleted access key, of another project, or not a
    /// token at all. An error only when the client itself does not
    /// authenticate.
    pub async fn introspect(
        &self,
        client: TokenRequest,
        token: &str,
    ) -> Result<Option<Arc<Claims>>> {
        let client = self.authenticate_client(&client).await?;
        match self.live_token(token).await {
            Ok((claims, caller)) if caller.project_id == client.project_id => Ok(Some(claims)),
            Err(Error::Storage(e)) => Err(Error::Storage(e)),
            _ => Ok(None),
        }
    }
}
