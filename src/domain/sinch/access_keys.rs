//! Access keys of a project: list, create, read, rename, delete. Every
//! operation first checks that the caller's credentials are for the project.

use super::{Caller, Error, Result, Sinch};
use crate::domain::audit::{self, Scope, Summary};
use crate::domain::secrets;
use crate::storage::{AccessKeyRow, InsertAccessKey, NewAccessKey, RenameAccessKey};
use base64::Engine;

pub const MAX_DISPLAY_NAME_CHARS: usize = 256;
pub const DEFAULT_PAGE_SIZE: i32 = 100;
pub const MAX_PAGE_SIZE: i32 = 1000;

/// A page of keys; `next_page_token` is empty on the last page.
pub struct AccessKeyPage {
    pub keys: Vec<AccessKeyRow>,
    pub next_page_token: String,
}

fn checked_display_name(display_name: Option<&str>) -> Result<&str> {
    match display_name {
        None | Some("") => Err(Error::InvalidArgument("displayName is required".into())),
        Some(name) if name.chars().count() > MAX_DISPLAY_NAME_CHARS => Err(Error::InvalidArgument(
            format!("displayName must be at most {MAX_DISPLAY_NAME_CHARS} characters"),
        )),
        Some(name) => Ok(name),
    }
}

fn not_found(access_key_id: &str) -> Error {
    Error::NotFound(format!("access key {access_key_id} not found"))
}

fn name_taken(display_name: &str) -> Error {
    Error::AlreadyExists(format!(
        "an access key named {display_name:?} already exists in this project"
    ))
}

/// Page tokens are opaque to clients: the position after the page's last key.
fn encode_page_token(key: &AccessKeyRow) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{}", key.created_at, key.id))
}

fn parse_page_token(token: &str) -> Result<(i64, String)> {
    let invalid = || Error::InvalidArgument("pageToken is not valid".into());
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (time, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok((time.parse().map_err(|_| invalid())?, id.to_string()))
}

impl Sinch {
    pub async fn list_access_keys(
        &self,
        caller: &Caller,
        project_id: &str,
        page_size: Option<i32>,
        page_token: Option<&str>,
    ) -> Result<AccessKeyPage> {
        caller.require_project(project_id)?;
        let page_size = match page_size {
            None | Some(0) => DEFAULT_PAGE_SIZE,
            Some(size) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
            Some(size) => {
                return Err(Error::InvalidArgument(format!(
                    "pageSize must be in 1-{MAX_PAGE_SIZE}, got {size}"
                )));
            }
        };
        let after = page_token
            .filter(|t| !t.is_empty())
            .map(parse_page_token)
            .transpose()?;
        let mut keys = self
            .storage
            .list_access_keys(
                project_id,
                after.as_ref().map(|(t, id)| (*t, id.as_str())),
                i64::from(page_size) + 1,
            )
            .await?;
        let more = keys.len() > page_size as usize;
        keys.truncate(page_size as usize);
        let next_page_token = if more {
            keys.last().map(encode_page_token).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(AccessKeyPage {
            keys,
            next_page_token,
        })
    }

    /// Creates a key; its secret is returned this once.
    pub async fn create_access_key(
        &self,
        caller: &Caller,
        project_id: &str,
        display_name: Option<&str>,
        request_id: &str,
    ) -> Result<(AccessKeyRow, String)> {
        caller.require_project(project_id)?;
        let display_name = checked_display_name(display_name)?;
        let secret = secrets::new_access_key_secret();
        let now = self.now();
        // Everything about the new key is known here: no need to read it back.
        let row = AccessKeyRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project_id.to_string(),
            display_name: display_name.to_string(),
            secret_hash: secrets::hash(&secret).to_vec(),
            created_at: now,
            updated_at: now,
        };
        let key = NewAccessKey {
            id: &row.id,
            project_id,
            display_name,
            secret_hash: &row.secret_hash,
            created_at: row.created_at,
        };
        let limit = self.settings.max_access_keys_per_project;
        let record = audit::record(
            caller.acting(request_id),
            now,
            "access_key.create",
            &row.id,
            Scope::Project(project_id),
            Summary::new().set("displayName", display_name),
        );
        match self.storage.insert_access_key(&key, limit, &record).await? {
            InsertAccessKey::Inserted => Ok((row, secret)),
            InsertAccessKey::NameTaken => Err(name_taken(display_name)),
            InsertAccessKey::LimitReached => Err(Error::FailedPrecondition(format!(
                "Limit of {limit} Access Keys reached"
            ))),
        }
    }

    pub async fn get_access_key(
        &self,
        caller: &Caller,
        project_id: &str,
        access_key_id: &str,
    ) -> Result<AccessKeyRow> {
        caller.require_project(project_id)?;
        self.find(project_id, access_key_id).await
    }

    pub async fn rename_access_key(
        &self,
        caller: &Caller,
        project_id: &str,
        access_key_id: &str,
        display_name: Option<&str>,
        request_id: &str,
    ) -> Result<AccessKeyRow> {
        caller.require_project(project_id)?;
        let display_name = checked_display_name(display_name)?;
        let now = self.now();
        let record = audit::record(
            caller.acting(request_id),
            now,
            "access_key.update",
            access_key_id,
            Scope::Project(project_id),
            Summary::new().set("displayName", display_name),
        );
        let renamed = self
            .storage
            .rename_access_key(project_id, access_key_id, display_name, now, &record)
            .await?;
        self.keys.invalidate([access_key_id.to_string()]);
        match renamed {
            RenameAccessKey::Renamed => self.find(project_id, access_key_id).await,
            RenameAccessKey::NameTaken => Err(name_taken(display_name)),
            RenameAccessKey::NotFound => Err(not_found(access_key_id)),
        }
    }

    /// Deletes a key, even the one the call authenticated with; its tokens
    /// stop working at once.
    pub async fn delete_access_key(
        &self,
        caller: &Caller,
        project_id: &str,
        access_key_id: &str,
        request_id: &str,
    ) -> Result<()> {
        caller.require_project(project_id)?;
        let record = audit::record(
            caller.acting(request_id),
            self.now(),
            "access_key.delete",
            access_key_id,
            Scope::Project(project_id),
            Summary::new(),
        );
        let deleted = self
            .storage
            .delete_access_key(project_id, access_key_id, &record)
            .await?;
        // Its tokens are checked against this cache: they stop here.
        self.keys.invalidate([access_key_id.to_string()]);
        if !deleted {
            return Err(not_found(access_key_id));
        }
        Ok(())
    }

    async fn find(&self, project_id: &str, access_key_id: &str) -> Result<AccessKeyRow> {
        match self.access_key(access_key_id).await? {
            Some(key) if key.project_id == project_id => Ok(AccessKeyRow::clone(&key)),
            _ => Err(not_found(access_key_id)),
        }
    }
}
