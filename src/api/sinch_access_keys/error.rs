//! Sinch's (Google-style) error shape:
//! `{"error":{"code":<http status>,"message","status":"<CANONICAL>","details":[]}}`.

use crate::api::error::ErrorCore;
use crate::api::{ApiError, Reply, RequestId};
use dropshot::HttpError;
use http::{HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::Serialize;

/// An error answered on a Sinch route.
#[derive(Debug)]
pub struct Error {
    core: ErrorCore,
    /// The canonical status name; see [`canonical_status`].
    canonical: &'static str,
    /// The `WWW-Authenticate` challenge of a 401.
    challenge: Option<String>,
}

impl Error {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Error {
        Error::of(ErrorCore::new(status, message))
    }

    fn of(core: ErrorCore) -> Error {
        Error {
            canonical: canonical_status(core.status),
            core,
            challenge: None,
        }
    }

    /// A 400 whose cause is the project's state, not the request's syntax.
    pub fn failed_precondition(message: impl Into<String>) -> Error {
        Error {
            canonical: "FAILED_PRECONDITION",
            ..Error::new(StatusCode::BAD_REQUEST, message)
        }
    }

    /// Adds the `WWW-Authenticate` challenge of a 401.
    pub fn with_challenge(mut self, challenge: impl Into<String>) -> Error {
        self.challenge = Some(challenge.into());
        self
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetails {
                code: self.core.status.as_u16(),
                message: self.core.message.clone(),
                status: self.canonical,
                details: Vec::new(),
            },
        }
    }
}

/// The canonical status name of an HTTP status, as the real service uses them.
fn canonical_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        // grpc-gateway, which serves the real API, names a wrong method so.
        405 | 501 => "UNIMPLEMENTED",
        408 => "DEADLINE_EXCEEDED",
        409 => "ALREADY_EXISTS",
        503 => "UNAVAILABLE",
        _ => "INTERNAL_ERROR",
    }
}

#[derive(Serialize, JsonSchema)]
struct ErrorBody {
    error: ErrorDetails,
}

#[derive(Serialize, JsonSchema)]
struct ErrorDetails {
    /// The HTTP status code.
    code: u16,
    message: String,
    /// The canonical status name, e.g. `INVALID_ARGUMENT`.
    status: &'static str,
    /// Always empty: keyward attaches no details.
    details: Vec<serde_json::Value>,
}

impl ApiError for Error {
    // Sinch's error body has no request id; dropshot's `x-request-id` header
    // carries it.
    fn into_reply<T>(self, _request_id: &RequestId) -> Reply<T> {
        let mut headers = self.core.headers();
        if let Some(value) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(http::header::WWW_AUTHENTICATE, value);
        }
        Reply::json(self.core.status, &self.body(), headers)
    }
}

/// The challenge of a 401. An expired token says so: the official SDKs fetch
/// a new token and retry exactly when the challenge contains "expired".
const CHALLENGE: &str = "Basic realm=\"keyward\", Bearer realm=\"keyward\"";
const EXPIRED_CHALLENGE: &str =
    "Bearer error=\"invalid_token\", error_description=\"token expired\"";

impl From<crate::domain::sinch::Error> for Error {
    fn from(error: crate::domain::sinch::Error) -> Error {
        use crate::domain::sinch::Error as Domain;
        match error {
            Domain::InvalidArgument(message) => Error::new(StatusCode::BAD_REQUEST, message),
            Domain::FailedPrecondition(message) => Error::failed_precondition(message),
            Domain::Unauthenticated { message, expired } => {
                Error::new(StatusCode::UNAUTHORIZED, message).with_challenge(if expired {
                    EXPIRED_CHALLENGE
                } else {
                    CHALLENGE
                })
            }
            Domain::PermissionDenied(message) => Error::new(StatusCode::FORBIDDEN, message),
            Domain::NotFound(message) => Error::new(StatusCode::NOT_FOUND, message),
            Domain::AlreadyExists(message) => Error::new(StatusCode::CONFLICT, message),
            Domain::Unsupported(message) => Error::new(StatusCode::BAD_REQUEST, message),
            Domain::Internal(cause) => Error::of(ErrorCore {
                internal: Some(cause),
                ..ErrorCore::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
            }),
            Domain::Storage(error) => Error::from(error),
        }
    }
}

impl From<crate::storage::StorageError> for Error {
    // A busy database is the documented 503 UNAVAILABLE: retry later.
    fn from(error: crate::storage::StorageError) -> Error {
        Error::of(ErrorCore::from_storage(
            error,
            StatusCode::SERVICE_UNAVAILABLE,
        ))
    }
}

impl From<HttpError> for Error {
    fn from(error: HttpError) -> Error {
        Error::of(ErrorCore::from_http(error))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt_labelled(self.canonical, f)
    }
}

crate::api::error_plumbing!(Error, "SinchError", ErrorBody, |error| error.body());
