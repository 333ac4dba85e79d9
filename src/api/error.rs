//! What every API's error carries, whatever its wire shape: the status, the
//! message the client reads, what only the log sees, and whether retrying
//! later will likely work. Each API (`unkey`, `sinch_access_keys`, `oauth`)
//! wraps an [`ErrorCore`] and adds only its body and its headers.

use crate::storage::StorageError;
use dropshot::HttpError;
use http::{HeaderMap, StatusCode};

#[derive(Debug)]
pub struct ErrorCore {
    pub status: StatusCode,
    /// What the client reads; values it repeats are shortened.
    pub message: String,
    /// What only the log may see of a server-side failure.
    pub internal: Option<String>,
    /// A busy database: the answer carries `Retry-After`.
    pub retry_later: bool,
}

impl ErrorCore {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ErrorCore {
        ErrorCore {
            status,
            message: super::shorten_echoes(message.into()),
            internal: None,
            retry_later: false,
        }
    }

    /// What dropshot rejected before a handler ran, as the client sees it.
    pub fn from_http(error: HttpError) -> ErrorCore {
        ErrorCore::new(super::client_visible_status(&error), error.external_message)
    }

    /// A storage failure: the client learns only that it failed, and, when
    /// the database was busy, that a retry will likely work (`busy`, the
    /// status the API documents for that); the log gets the cause.
    pub fn from_storage(error: StorageError, busy: StatusCode) -> ErrorCore {
        let core = match error.is_busy() {
            true => ErrorCore {
                retry_later: true,
                ..ErrorCore::new(busy, super::BUSY_MESSAGE)
            },
            false => ErrorCore::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
        };
        ErrorCore {
            internal: Some(error.to_string()),
            ..core
        }
    }

    /// `Retry-After` when a retry later will likely work.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.retry_later {
            headers.insert(http::header::RETRY_AFTER, super::RETRY_AFTER.clone());
        }
        headers
    }

    /// `<label>: <message> (<internal>)`, for the log.
    pub fn fmt_labelled(&self, label: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{label}: {}", self.message)?;
        match &self.internal {
            Some(internal) => write!(f, " ({internal})"),
            None => Ok(()),
        }
    }
}
