//! Checks a response against the spec of its API: the operation's documented
//! schema for that status (converted to JSON Schema by the same code that
//! build.rs uses), the content type, and each API's error-code rules.

use crate::openapi::{self, Normalized};
use serde_json::{Value, json};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Unkey,
    Sinch,
    /// keyward's `POST /oauth2/token`, which no spec documents: RFC 6749.
    OAuth,
}

struct LoadedSpec {
    normalized: Normalized,
    /// Every component schema, converted to JSON Schema.
    components: serde_json::Map<String, Value>,
}

fn load(api: Api) -> &'static LoadedSpec {
    static UNKEY: OnceLock<LoadedSpec> = OnceLock::new();
    static SINCH: OnceLock<LoadedSpec> = OnceLock::new();
    let (cell, file) = match api {
        Api::Unkey => (&UNKEY, "unkey.openapi.json"),
        Api::Sinch | Api::OAuth => (&SINCH, "sinch_access_keys.openapi.json"),
    };
    cell.get_or_init(|| {
        // The overlaid document, as build.rs wrote it and keyward serves it.
        let path = format!("{}/{file}", env!("OUT_DIR"));
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("spec"))
            .expect("spec JSON");
        let normalized = openapi::normalize(&raw).expect("spec normalizes");
        let components = openapi::component_json_schemas(&normalized.spec);
        LoadedSpec {
            normalized,
            components,
        }
    })
}

/// Whether a concrete path matches a spec path template.
pub fn path_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The envelope every error of the API has, whatever its status.
fn error_envelope(api: Api) -> Value {
    match api {
        Api::Unkey => json!({
            "type": "object",
            "required": ["error"],
            "properties": { "error": {
                "type": "object",
                "required": ["code", "docs", "message", "requestId"],
                "additionalProperties": false,
                "properties": {
                    "code": { "type": "string" },
                    "docs": { "type": "string" },
                    "message": { "type": "string", "minLength": 1 },
                    "requestId": { "type": "string", "pattern": "^req_[0-9a-f]{32}$" }
                }
            }}
        }),
        Api::OAuth => json!({
            "type": "object",
            "required": ["error", "error_description"],
            "additionalProperties": false,
            "properties": {
                "error": { "enum": ["invalid_request", "invalid_client", "unsupported_grant_type", "server_error", "temporarily_unavailable"] },
                "error_description": { "type": "string", "minLength": 1 }
            }
        }),
        Api::Sinch => json!({
            "type": "object",
            "required": ["error"],
            "properties": { "error": {
                "type": "object",
                "required": ["code", "message", "status", "details"],
                "additionalProperties": false,
                "properties": {
                    "code": { "type": "integer" },
                    "message": { "type": "string", "minLength": 1 },
                    "status": { "type": "string" },
                    "details": { "type": "array", "maxItems": 0 }
                }
            }}
        }),
    }
}

fn validate(api: Api, schema: &Value, body: &Value, what: &str) {
    let mut root = schema.clone();
    if let Value::Object(map) = &mut root {
        map.insert(
            "components".to_string(),
            json!({ "schemas": Value::Object(load(api).components.clone()) }),
        );
    }
    let validator = jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("{what}: schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: body does not match the spec:\n  {}\nbody: {body:#}",
        errors.join("\n  ")
    );
}

/// The error-code rules of each API.
fn check_error_code(api: Api, status: u16, body: &Value, what: &str) {
    match api {
        Api::Unkey => {
            let expected = match status {
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
            };
            let code = body["error"]["code"].as_str().unwrap_or_default();
            assert_eq!(
                code, expected,
                "{what}: an Unkey {status} carries code {expected}"
            );
            assert_eq!(
                body["error"]["docs"].as_str().unwrap_or_default(),
                format!("https://unkey.dev/docs/api-reference/errors/code/{code}"),
                "{what}: docs link"
            );
        }
        Api::Sinch => {
            assert_eq!(
                body["error"]["code"],
                json!(status),
                "{what}: a Sinch error's code is its HTTP status"
            );
            let allowed: &[&str] = match status {
                400 => &["INVALID_ARGUMENT", "FAILED_PRECONDITION"],
                401 => &["UNAUTHENTICATED"],
                403 => &["PERMISSION_DENIED"],
                404 => &["NOT_FOUND"],
                405 | 501 => &["UNIMPLEMENTED"],
                408 => &["DEADLINE_EXCEEDED"],
                409 => &["ALREADY_EXISTS"],
                503 => &["UNAVAILABLE"],
                _ => &["INTERNAL_ERROR"],
            };
            let canonical = body["error"]["status"].as_str().unwrap_or_default();
            assert!(
                allowed.contains(&canonical),
                "{what}: a Sinch {status} has status in {allowed:?}, not {canonical}"
            );
        }
        // Checked with its own rules in check_oauth.
        Api::OAuth => {}
    }
}

/// The answers of the token endpoint (RFC 6749 §5.1 and §5.2) and of
/// introspection (RFC 7662 §2.2, its errors as RFC 6749's).
fn check_oauth(method: &str, path: &str, response: &super::TestResponse) {
    let what = format!("{method} {path} → {}", response.status);
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{what}: content type"
    );
    assert_eq!(
        response.header("cache-control"),
        Some("no-store"),
        "{what}: tokens are not cached"
    );
    if response.status == 200 && path == "/oauth2/introspect" {
        let string = json!({ "type": "string", "minLength": 1 });
        let integer = json!({ "type": "integer" });
        let introspection = json!({
            "type": "object",
            "required": ["active"],
            "additionalProperties": false,
            "properties": {
                "active": { "type": "boolean" },
                "sub": string, "project_id": string, "jti": string, "client_id": string,
                "iss": string, "exp": integer, "iat": integer,
                "token_type": { "const": "Bearer" }
            },
            "if": { "properties": { "active": { "const": true } } },
            "then": { "required": ["sub", "project_id", "exp", "iat", "jti", "client_id", "token_type"] },
            "else": { "maxProperties": 1 }
        });
        validate(Api::OAuth, &introspection, &response.body, &what);
    } else if response.status == 200 {
        let token = json!({
            "type": "object",
            "required": ["access_token", "expires_in", "scope", "token_type"],
            "additionalProperties": false,
            "properties": {
                "access_token": { "type": "string", "minLength": 1 },
                "expires_in": { "type": "integer", "minimum": 1 },
                "scope": { "const": "" },
                "token_type": { "const": "bearer" }
            }
        });
        validate(Api::OAuth, &token, &response.body, &what);
    } else {
        validate(
            Api::OAuth,
            &error_envelope(Api::OAuth),
            &response.body,
            &what,
        );
        let expected = match response.body["error"].as_str() {
            Some("invalid_client") => 401,
            Some("server_error") => 500,
            Some("temporarily_unavailable") => 503,
            Some("invalid_request") if response.status == 408 => 408,
            Some("invalid_request") if response.status == 405 => 405,
            _ => 400,
        };
        assert_eq!(
            response.status, expected,
            "{what}: status of {}",
            response.body["error"]
        );
        if response.status == 401 {
            assert!(
                response.header("www-authenticate").is_some(),
                "{what}: a 401 has a challenge"
            );
        }
    }
}

/// Fails the test when `response` breaks `api`'s spec. Returns the
/// documented operation it answered, as `api METHOD /path/template`.
pub fn check(
    api: Api,
    method: &str,
    path_and_query: &str,
    response: &super::TestResponse,
) -> Option<String> {
    let path = path_and_query.split('?').next().unwrap_or_default();
    if api == Api::OAuth {
        check_oauth(method, path, response);
        return Some(format!("oauth {method} {path}"));
    }
    let what = format!("{method} {path} → {}", response.status);
    let spec = load(api);
    let on_path: Vec<_> = spec
        .normalized
        .operations
        .iter()
        .filter(|op| path_matches(&op.path, path))
        .collect();
    if on_path.is_empty() {
        // Dropshot answers paths that match no route itself; see README.
        assert_eq!(response.status, 404, "{what}: an unknown path is a 404");
        return None;
    }
    if response.status >= 400 {
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{what}: content type"
        );
        validate(api, &error_envelope(api), &response.body, &what);
        check_error_code(api, response.status, &response.body, &what);
        if api == Api::Sinch && response.status == 401 {
            assert!(
                response.header("www-authenticate").is_some(),
                "{what}: a 401 has a challenge"
            );
        }
        if api == Api::Unkey {
            assert_eq!(
                response.header("unkey-request-id"),
                response.body["error"]["requestId"].as_str(),
                "{what}: the Unkey-Request-Id header names the same request as the body"
            );
        }
    }
    let Some(op) = on_path.iter().find(|op| op.method == method) else {
        assert_eq!(
            response.status, 405,
            "{what}: an undocumented method is a 405"
        );
        let allow = response.header("allow").unwrap_or_default();
        let documented: Vec<&str> = on_path.iter().map(|op| op.method.as_str()).collect();
        assert_eq!(
            allow,
            documented.join(", "),
            "{what}: a 405 lists the methods the path has in Allow"
        );
        return None;
    };
    if api == Api::Unkey {
        assert!(
            response.header("unkey-request-id").is_some(),
            "{what}: every Unkey response has Unkey-Request-Id"
        );
    }
    let documented = spec.normalized.spec.pointer(&format!(
        "/paths/{}/{}/responses/{}",
        op.path.replace('~', "~0").replace('/', "~1"),
        method.to_lowercase(),
        response.status
    ));
    match documented.and_then(|r| r.pointer("/content/application~1json/schema")) {
        Some(schema) => {
            assert_eq!(
                response.header("content-type"),
                Some("application/json"),
                "{what}: content type"
            );
            validate(api, &openapi::to_json_schema(schema), &response.body, &what);
        }
        // A success documented without a body (Sinch's delete) is answered
        // with `{}`, which every client accepts.
        None if response.status < 400 => {
            assert_eq!(
                response.body,
                json!({}),
                "{what}: a success without a documented body is {{}}"
            )
        }
        // An error documented without a body (Sinch 401/403), or not
        // documented at all: the error envelope above is what is checked.
        None => {}
    }
    Some(operation_label(api, &op.method, &op.path))
}

/// How coverage names an operation: `unkey GET /v1/keys.getKey`.
pub fn operation_label(api: Api, method: &str, path: &str) -> String {
    let api = match api {
        Api::Unkey => "unkey",
        Api::Sinch => "sinch",
        Api::OAuth => "oauth",
    };
    format!("{api} {method} {path}")
}

/// Every (operation, status) pair the two specs document.
pub fn documented_pairs() -> Vec<(String, u16)> {
    let mut pairs = Vec::new();
    for api in [Api::Unkey, Api::Sinch] {
        let spec = load(api);
        for op in &spec.normalized.operations {
            let pointer = format!(
                "/paths/{}/{}/responses",
                op.path.replace('~', "~0").replace('/', "~1"),
                op.method.to_lowercase()
            );
            for status in spec
                .normalized
                .spec
                .pointer(&pointer)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(s, _)| s)
            {
                if let Ok(status) = status.parse() {
                    pairs.push((operation_label(api, &op.method, &op.path), status));
                }
            }
        }
    }
    pairs
}
