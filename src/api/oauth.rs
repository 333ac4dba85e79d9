//! keyward's OAuth 2.0 authorization server for Sinch access keys. No spec
//! documents it; it follows the RFCs and what the official Sinch SDKs send:
//! - `POST /oauth2/token` (RFC 6749): `grant_type=client_credentials`,
//!   form-encoded, with the client authenticated by HTTP Basic or by
//!   `client_id`/`client_secret`;
//! - `POST /oauth2/introspect` (RFC 7662), authenticated the same way;
//! - `GET /.well-known/jwks.json` (RFC 7517), the public keys that check
//!   tokens offline, and `GET /.well-known/oauth-authorization-server`
//!   (RFC 8414), the metadata that names all of these.

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
const INTROSPECT_PATH: &str = "/oauth2/introspect";
const JWKS_PATH: &str = "/.well-known/jwks.json";
const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
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

#[derive(Debug, Default, Deserialize)]
struct IntrospectionForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The answer of introspection, RFC 7662 §2.2: only `active` when the token
/// is not active for the asking client.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
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
fn add_no_store(headers: &mut HeaderMap) {
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl ApiError for OAuthError {
    fn into_reply<T>(self, _request_id: &RequestId) -> Reply<T> {
        let mut headers = HeaderMap::new();
        add_no_store(&mut headers);
        headers.extend(self.core.headers());
        if self.code == "invalid_client" {
            headers.insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keyward\""),
            );
        }
        Reply::json(self.core.status, &self.body(), headers)
    }

    fn add_common_headers(_request_id: &RequestId, headers: &mut HeaderMap) {
        add_no_store(headers);
    }
}

/// The form body of a request, and its client's Basic credentials if any.
fn read_form<F: serde::de::DeserializeOwned>(
    rqctx: &RequestContext<ServerState>,
    body: crate::api::RawBody,
) -> Result<(F, Option<(String, String)>), OAuthError> {
    let body = body.parsed()?;
    let content_type = rqctx
        .request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.trim_start().starts_with(FORM) {
        return Err(OAuthError::invalid_request(format!(
            "the body must be {FORM}"
        )));
    }
    let form = serde_urlencoded::from_bytes(&body)
        .map_err(|e| OAuthError::invalid_request(format!("the form does not parse: {e}")))?;
    let basic = match crate::api::credentials::credential(rqctx) {
        Some(Credential::Basic { id, secret }) => Some((id, secret)),
        _ => None,
    };
    Ok((form, basic))
}

async fn token(
    rqctx: RequestContext<ServerState>,
    body: crate::api::RawBody,
) -> Result<Reply<TokenResponse>, OAuthError> {
    answer(&rqctx, async |_| {
        let (form, basic): (TokenForm, _) = read_form(&rqctx, body)?;
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

async fn introspect(
    rqctx: RequestContext<ServerState>,
    body: crate::api::RawBody,
) -> Result<Reply<IntrospectionResponse>, OAuthError> {
    answer(&rqctx, async |_| {
        let (form, basic): (IntrospectionForm, _) = read_form(&rqctx, body)?;
        let token = form
            .token
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let client = TokenRequest {
            basic,
            client_id: form.client_id,
            client_secret: form.client_secret,
            ..TokenRequest::default()
        };
        let active = rqctx.context().sinch.introspect(client, &token).await?;
        Ok(match active {
            Some(claims) => IntrospectionResponse {
                active: true,
                client_id: Some(claims.sub.clone()),
                sub: Some(claims.sub.clone()),
                project_id: Some(claims.project_id.clone()),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                jti: Some(claims.jti.clone()),
                token_type: Some("Bearer".to_string()),
                iss: Some(claims.iss.clone()),
            },
            None => IntrospectionResponse::default(),
        })
    })
    .await
}

/// The public keys that check tokens (RFC 7517). Clients may cache them for
/// a minute; a token with an unknown `kid` means it is time to fetch again.
async fn jwks(rqctx: RequestContext<ServerState>) -> Result<Reply<serde_json::Value>, OAuthError> {
    let keys = serde_json::to_value(rqctx.context().sinch.jwks())
        .map_err(|e| OAuthError::from(SinchError::Internal(format!("the JWKS: {e}"))));
    Ok(match keys {
        Ok(keys) => Reply::ok(&keys, HeaderMap::new()).with_header(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        ),
        Err(error) => error.into_reply(&RequestId::of(&rqctx)),
    })
}

/// The authorization server's metadata (RFC 8414).
async fn metadata(
    rqctx: RequestContext<ServerState>,
) -> Result<Reply<serde_json::Value>, OAuthError> {
    let issuer = &rqctx.context().sinch.settings().issuer;
    let client_auth = ["client_secret_basic", "client_secret_post"];
    let document = serde_json::json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}{PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "introspection_endpoint": format!("{issuer}{INTROSPECT_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_methods_supported": client_auth,
    });
    Ok(Reply::ok(&document, HeaderMap::new()))
}

/// Registers `endpoint`, and a 405 in OAuth's shape for every other method
/// of its path.
fn register_with_fallbacks(
    api: &mut ApiDescription<ServerState>,
    endpoint: ApiEndpoint<ServerState>,
) -> Result<(), ApiDescriptionRegisterError> {
    let (id, method, path) = (
        endpoint.operation_id.clone(),
        endpoint.method.clone(),
        endpoint.path.clone(),
    );
    api.register(endpoint)?;
    let allow: &'static str = if method == http::Method::GET {
        "GET"
    } else {
        "POST"
    };
    for other in [
        http::Method::GET,
        http::Method::POST,
        http::Method::PUT,
        http::Method::PATCH,
        http::Method::DELETE,
        http::Method::OPTIONS,
        http::Method::TRACE,
    ]
    .into_iter()
    .filter(|m| *m != method)
    {
        api.register(
            ApiEndpoint::new(
                format!("{id}_{}_not_allowed", other.as_str().to_lowercase()),
                move |rqctx| {
                    crate::api::method_not_allowed::<ServerState, OAuthError>(rqctx, allow)
                },
                other,
                "application/json",
                &path,
                ApiEndpointVersions::All,
            )
            .visible(false),
        )?;
    }
    Ok(())
}

/// Registers the token, introspection, JWKS and metadata endpoints.
pub fn register(api: &mut ApiDescription<ServerState>) -> Result<(), ApiDescriptionRegisterError> {
    let json = "application/json";
    register_with_fallbacks(
        api,
        ApiEndpoint::new(
            "oauth2_token".into(),
            token,
            http::Method::POST,
            FORM,
            PATH,
            ApiEndpointVersions::All,
        ),
    )?;
    register_with_fallbacks(
        api,
        ApiEndpoint::new(
            "oauth2_introspect".into(),
            introspect,
            http::Method::POST,
            FORM,
            INTROSPECT_PATH,
            ApiEndpointVersions::All,
        ),
    )?;
    register_with_fallbacks(
        api,
        ApiEndpoint::new(
            "jwks".into(),
            jwks,
            http::Method::GET,
            json,
            JWKS_PATH,
            ApiEndpointVersions::All,
        ),
    )?;
    register_with_fallbacks(
        api,
        ApiEndpoint::new(
            "oauth_authorization_server".into(),
            metadata,
            http::Method::GET,
            json,
            METADATA_PATH,
            ApiEndpointVersions::All,
        ),
    )
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
