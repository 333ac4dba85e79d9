//! What can go wrong in the Unkey domain. The API maps each to its status.

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// No valid root key.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid root key without the permission, or a disabled workspace.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource in the caller's workspace.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T> = std::result::Result<T, Error>;
