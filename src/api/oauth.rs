//! `POST /oauth2/token`: the OAuth2 client-credentials endpoint that makes
//! Sinch access keys usable as bearer tokens. No spec documents it; it
//! follows RFC 6749 and what the official Sinch SDKs send:
//! `grant_type=client_credentials`, form-encoded, with the client
//! authenticated by HTTP Basic or by `client_id`/`client_secret`.

use crate::api::context::ServerState;
use crate::api::error::ErrorCore;
use crate::api::{ApiError, Reply, RequestId, answer};
use crate::domain::Credential;
use crate::domain::sinch::Error as SinchError;
use crate::domain::sinch::tokens::TokenRequest;
use dropshot::{
    ApiDescription, ApiDescriptionRegisterError, ApiEndpoint, ApiEndpointVersions, HttpError,
    RequestContext,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const PATH: &str = "/oauth2/token";
const FORM: &str = "application/x-www-form-urlencoded";

/// The successful answer, RFC 6749 §5.1.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// Always empty: tokens carry no scopes.
    pub scope: String,
    pub token_type: String,
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An error of the token endpoint, RFC 6749 §5.2:
/// `{"error": "<code>", "error_description": "…"}`.
#[derive(Debug)]
pub struct OAuthError {
    /// The status, and the `error_description` as its message.
    core: ErrorCore,
    code: &'static str,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            core: ErrorCore::new(status, description),
            code,
        }
    }

    fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: self.code,
            error_description: &self.core.message,
        }
    }
}

#[derive(Serialize, JsonSchema)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// The domain's errors in RFC 6749's words.
impl From<SinchError> for OAuthError {
    fn from(error: SinchError) -> OAuthError {
        match error {
            SinchError::Unauthenticated { message, .. } => {
                OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", message)
            }
            SinchError::Unsupported(message) => {
                OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", message)
            }
            SinchError::Internal(cause) => OAuthError {
                core: ErrorCore {
                    internal: Some(cause),
                    ..ErrorCore::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
                },
                code: "server_error",
            },
            SinchError::Storage(e) => {
                let core = ErrorCore::from_storage(e, StatusCode::SERVICE_UNAVAILABLE);
                let code = match core.retry_later {
                    true => "temporarily_unavailable",
                    false => "server_error",
                };
                OAuthError { core, code }
            }
            // The rest is the client's to fix: RFC 6749 has one word for it.
            SinchError::InvalidArgument(message)
            | SinchError::FailedPrecondition(message)
            | SinchError::PermissionDenied(message)
            | SinchError::NotFound(message)
            | SinchError::AlreadyExists(message) => OAuthError::invalid_request(message),
        }
    }
}

impl From<HttpError> for OAuthError {
    fn from(error: HttpError) -> OAuthError {
        OAuthError {
            core: ErrorCore::from_http(error),
            code: "invalid_request",
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt_labelled(self.code, f)
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers
}

impl ApiError for OAuthError {
    fn into_reply<T>(self, _request_id: &RequestId) -> Reply<T> {
        let mut headers = no_store();
        headers.extend(self.core.headers());
        if self.code == "invalid_client" {
            headers.insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keyward\""),
            );
        }
        Reply::json(self.core.status, &self.body(), headers)
    }

    fn success_headers(_request_id: &RequestId) -> HeaderMap {
        no_store()
    }
}

async fn token(
    rqctx: RequestContext<ServerState>,
    body: crate::api::RawBody,
) -> Result<Reply<TokenResponse>, OAuthError> {
    answer(&rqctx, async {
        let body = body.parsed()?;
        let headers = rqctx.request.headers();
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.trim_start().starts_with(FORM) {
            return Err(OAuthError::invalid_request(format!(
                "the body must be {FORM}"
            )));
        }
        let form: TokenForm = serde_urlencoded::from_bytes(body.as_bytes())
            .map_err(|e| OAuthError::invalid_request(format!("the form does not parse: {e}")))?;
        let basic = match crate::api::credentials::credential(&rqctx) {
            Some(Credential::Basic { id, secret }) => Some((id, secret)),
            _ => None,
        };
        let request = TokenRequest {
            grant_type: form.grant_type,
            basic,
            client_id: form.client_id,
            client_secret: form.client_secret,
        };
        let issued = rqctx.context().sinch.issue_token(request).await?;
        Ok(TokenResponse {
            access_token: issued.access_token,
            expires_in: issued.expires_in,
            scope: String::new(),
            token_type: "bearer".to_string(),
        })
    })
    .await
}

/// Registers the token endpoint, and a 405 in OAuth's shape for the other methods.
pub fn register(api: &mut ApiDescription<ServerState>) -> Result<(), ApiDescriptionRegisterError> {
    api.register(ApiEndpoint::new(
        "oauth2_token".to_string(),
        token,
        http::Method::POST,
        FORM,
        PATH,
        ApiEndpointVersions::All,
    ))?;
    for method in [
        http::Method::GET,
        http::Method::PUT,
        http::Method::PATCH,
        http::Method::DELETE,
        http::Method::OPTIONS,
        http::Method::TRACE,
    ] {
        api.register(
            ApiEndpoint::new(
                format!(
                    "oauth2_token_{}_not_allowed",
                    method.as_str().to_lowercase()
                ),
                |rqctx| crate::api::method_not_allowed::<ServerState, OAuthError>(rqctx, "POST"),
                method,
                "application/json",
                PATH,
                ApiEndpointVersions::All,
            )
            .visible(false),
        )?;
    }
    Ok(())
}

crate::api::error_plumbing!(OAuthError, "OAuthError", ErrorBody<'static>, |error| error
    .body());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_failure_is_a_server_error_with_its_cause_logged() {
        let error = OAuthError::from(SinchError::Internal(
            "signing the token failed: no key".into(),
        ));
        assert_eq!(error.core.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.code, "server_error");
        assert_eq!(error.core.message, "internal server error");
        // Display is what the request log gets.
        assert!(
            error
                .to_string()
                .contains("signing the token failed: no key")
        );
    }
}
