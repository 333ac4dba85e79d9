//! Unkey's error shape: `{"error":{"code","docs","message","requestId"}}`,
//! with the request id also in the `Unkey-Request-Id` header.

use crate::api::error::ErrorCore;
use crate::api::{ApiError, Reply, RequestId};
use dropshot::HttpError;
use http::{HeaderMap, HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::Serialize;

pub const REQUEST_ID_HEADER: &str = "unkey-request-id";

/// [`REQUEST_ID_HEADER`] parsed once: a header named by a `&str` is parsed
/// again on every insert.
static REQUEST_ID_NAME: http::HeaderName = http::HeaderName::from_static(REQUEST_ID_HEADER);

/// An error answered on an Unkey route. The public `code` follows from the
/// status, as in the spec's `Err*` schemas.
#[derive(Debug)]
pub struct Error {
    core: ErrorCore,
}

impl Error {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Error {
        Error {
            core: ErrorCore::new(status, message),
        }
    }

    pub fn code(&self) -> &'static str {
        code_for(self.core.status)
    }

    fn body(&self, request_id: &RequestId) -> ErrorBody {
        let code = self.code();
        ErrorBody {
            error: ErrorDetails {
                code,
                docs: format!("https://unkey.dev/docs/api-reference/errors/code/{code}"),
                message: self.core.message.clone(),
                request_id: request_id.to_string(),
            },
        }
    }
}

/// The code of each status, as the spec's `Err*` schemas and Unkey's own
/// error table name them.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        408 => "REQUEST_TIMEOUT",
        409 => "CONFLICT",
        429 => "TOO_MANY_REQUESTS",
        501 => "NOT_IMPLEMENTED",
        _ => "INTERNAL_SERVER_ERROR",
    }
}

#[derive(Serialize, JsonSchema)]
struct ErrorBody {
    error: ErrorDetails,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ErrorDetails {
    /// A machine readable error code.
    code: &'static str,
    /// A link to the documentation of this error code.
    docs: String,
    /// A human readable explanation of what went wrong.
    message: String,
    /// Include this id in an error report.
    request_id: String,
}

impl ApiError for Error {
    fn into_reply<T>(self, request_id: &RequestId) -> Reply<T> {
        let mut headers = HeaderMap::new();
        Error::add_common_headers(request_id, &mut headers);
        headers.extend(self.core.headers());
        Reply::json(self.core.status, &self.body(request_id), headers)
    }

    /// Every Unkey response names its request in `Unkey-Request-Id`.
    fn add_common_headers(request_id: &RequestId, headers: &mut HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
            headers.insert(REQUEST_ID_NAME.clone(), value);
        }
    }
}

impl From<crate::domain::unkey::Error> for Error {
    fn from(error: crate::domain::unkey::Error) -> Error {
        use crate::domain::unkey::Error as Domain;
        match error {
            Domain::Invalid(message) => Error::new(StatusCode::BAD_REQUEST, message),
            Domain::Unauthenticated(message) => Error::new(StatusCode::UNAUTHORIZED, message),
            Domain::Denied(message) => Error::new(StatusCode::FORBIDDEN, message),
            Domain::NotFound(message) => Error::new(StatusCode::NOT_FOUND, message),
            Domain::Conflict(message) => Error::new(StatusCode::CONFLICT, message),
            Domain::Storage(error) => Error::from(error),
        }
    }
}

impl From<crate::storage::StorageError> for Error {
    fn from(error: crate::storage::StorageError) -> Error {
        // The spec documents only 500 for a server fault.
        Error {
            core: ErrorCore::from_storage(error, StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl From<HttpError> for Error {
    fn from(error: HttpError) -> Error {
        Error {
            core: ErrorCore::from_http(error),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt_labelled(self.code(), f)
    }
}

// Dropshot renders an endpoint's `Err` itself, which happens only when a
// `Reply` could not be built; that body still has Unkey's shape.

crate::api::error_plumbing!(Error, "UnkeyError", ErrorBody, |error| error
    .body(&RequestId::generate()));
