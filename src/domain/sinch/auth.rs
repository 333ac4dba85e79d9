//! Who calls the Sinch API: HTTP Basic with an access key's id and secret,
//! or a bearer token that keyward issued for one.

use super::{Error, Result, Sinch};
use crate::domain::Credential;
use crate::domain::secrets;

/// An authenticated caller: an access key of a project.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key_id: String,
    pub project_id: String,
}

impl Caller {
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
            let claims = self.verify_token(token).await?;
            // Deleting a key revokes its tokens at once: it must still exist.
            return match self.access_key(&claims.sub).await? {
                Some(key) if key.project_id == claims.project_id => Ok(Caller {
                    access_key_id: key.id.clone(),
                    project_id: key.project_id.clone(),
                }),
                _ => Err(Error::unauthenticated(
                    "the token's access key no longer exists",
                )),
            };
        }
        Err(Error::unauthenticated("use HTTP Basic or a Bearer token"))
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
}
