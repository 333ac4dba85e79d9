//! What can go wrong in the Unkey domain, in the domain's words: it speaks
//! no HTTP. The API maps each to its status and code.

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input breaks a rule; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// No valid root key.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid root key without the permission, or a disabled workspace.
    #[error("{0}")]
    Denied(String),
    /// No such resource in the caller's workspace.
    #[error("{0}")]
    NotFound(String),
    /// The resource exists already.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T> = std::result::Result<T, Error>;
