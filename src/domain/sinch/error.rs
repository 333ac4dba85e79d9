//! What can go wrong in the Sinch domain. The API maps each to its status.

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed input; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// The project's state forbids it (the key limit).
    #[error("{0}")]
    FailedPrecondition(String),
    /// No valid credentials. `expired` marks an expired token, which clients
    /// answer by fetching a new one.
    #[error("{message}")]
    Unauthenticated { message: String, expired: bool },
    /// Valid credentials of another project.
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// The request asks for what keyward does not do (an OAuth grant type).
    #[error("{0}")]
    Unsupported(String),
    /// A fault of keyward's own, not of storage (a token it cannot sign).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Error {
    pub fn unauthenticated(message: impl Into<String>) -> Error {
        Error::Unauthenticated {
            message: message.into(),
            expired: false,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
