//! The test harness: a real keyward server per test, on a random port and a
//! fresh database, and an HTTP helper whose every response is checked
//! against the spec (see [`spec`]).

pub mod pg;
pub mod process;
pub mod spec;

use keyward::domain::clock::{Clock, ManualClock};
use keyward::server::{RunningServer, ServerConfig};
use serde_json::{Value, json};
use std::sync::Arc;

pub use spec::Api;

/// Whether this test binary runs the suite on PostgreSQL: `tests/postgres.rs`
/// includes the same modules as `tests/it/main.rs`.
pub const POSTGRES: bool = same(env!("CARGO_CRATE_NAME"), "postgres");

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A database for one test: a SQLite file in `dir`, or on the PostgreSQL
/// run, a new database of the test cluster.
pub fn fresh_database_url(dir: &std::path::Path) -> String {
    if POSTGRES {
        pg::new_database()
    } else {
        format!("sqlite://{}", dir.join("keyward.db").display())
    }
}

pub const ROOT_KEY: &str = "unkey_test_root_key";
pub const ACCESS_KEY_ID: &str = "00000000-0000-4000-8000-000000000001";
pub const ACCESS_KEY_SECRET: &str = "test-secret:with-a-colon";

/// A running server with deterministic bootstrap credentials.
pub struct TestServer {
    pub base_url: String,
    /// Stands still; tests move it for expiry and refills.
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    running: Option<RunningServer>,
    dir: tempfile::TempDir,
    database_url: String,
}

impl TestServer {
    /// A server whose clock stands at 2026-01-01T00:00:00Z.
    pub async fn start() -> TestServer {
        TestServer::start_at(1_767_225_600_000).await
    }

    /// A server whose clock stands at `now_ms`.
    pub async fn start_at(now_ms: i64) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database_url(dir.path());
        let clock = Arc::new(ManualClock::new(now_ms));
        let config = ServerConfig {
            bind: "127.0.0.1:0".parse().expect("address"),
            database_url: database_url.clone(),
            bootstrap_root_key: Some(ROOT_KEY.to_string()),
            bootstrap_access_key: Some((ACCESS_KEY_ID.to_string(), ACCESS_KEY_SECRET.to_string())),
            log_level: if std::env::var_os("KEYWARD_TEST_LOG").is_some() {
                dropshot::ConfigLoggingLevel::Debug
            } else {
                dropshot::ConfigLoggingLevel::Critical
            },
            sinch: Default::default(),
            token_signing_key_file: None,
            limits: Default::default(),
            metrics_bind: Some("127.0.0.1:0".parse().expect("address")),
            audit_retention: std::time::Duration::from_secs(90 * 86_400),
        };
        let running = keyward::server::start(config, Arc::clone(&clock) as Arc<dyn Clock>)
            .await
            .expect("server starts");
        TestServer {
            base_url: format!("http://{}", running.local_addr()),
            clock,
            http: reqwest::Client::new(),
            running: Some(running),
            dir,
            database_url,
        }
    }

    /// The database the server runs on.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The SQLite database file the server runs on (on the SQLite run).
    pub fn database_path(&self) -> std::path::PathBuf {
        self.dir.path().join("keyward.db")
    }

    /// The test clock, in unix seconds.
    pub fn clock_secs(&self) -> i64 {
        use keyward::domain::clock::Clock;
        self.clock.now_ms() / 1000
    }

    /// The server's own storage, for arranging what the API cannot (root
    /// keys, roles, other workspaces).
    pub fn storage(&self) -> keyward::storage::Storage {
        self.running
            .as_ref()
            .expect("running")
            .server
            .app_private()
            .storage
            .clone()
    }

    /// What the server's handlers reach: its domain objects.
    pub fn state(&self) -> &keyward::api::context::ServerState {
        self.running.as_ref().expect("running").server.app_private()
    }

    /// Waits until the server's key index is loaded: from then on, it
    /// answers a verify of an unknown key without reading storage.
    pub async fn key_index_loaded(&self) {
        let started = std::time::Instant::now();
        while !self.state().unkey.key_index_size().1 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "the key index did not load"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The server's metrics, scraped: each series (`name{labels}`) and its
    /// value.
    pub async fn scrape(&self) -> std::collections::BTreeMap<String, f64> {
        let address = self
            .running
            .as_ref()
            .and_then(RunningServer::metrics_addr)
            .expect("metrics are served");
        let response = self
            .http
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .expect("scraped");
        assert_eq!(response.status(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.expect("text");
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_string(), value.parse().ok()?))
            })
            .collect()
    }

    pub fn bootstrap(&self) -> &keyward::domain::admin::Bootstrap {
        self.running
            .as_ref()
            .and_then(|r| r.bootstrap.as_ref())
            .expect("a fresh database is bootstrapped")
    }

    /// Sends a request and checks the response against `api`'s spec.
    pub async fn send(&self, api: Api, request: Request<'_>) -> TestResponse {
        send(&self.http, &self.base_url, api, request).await
    }

    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("clean shutdown");
        }
    }
}

/// A request under test; build it with [`Request::get`] and friends.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Request<'a> {
        Request {
            method,
            path,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(path: &'a str) -> Request<'a> {
        Request::new("GET", path)
    }

    pub fn post(path: &'a str) -> Request<'a> {
        Request::new("POST", path)
    }

    pub fn json(self, body: &Value) -> Request<'a> {
        self.raw("application/json", serde_json::to_vec(body).expect("JSON"))
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Request<'a> {
        self.body = Some(body.into());
        self.header("content-type", content_type)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request<'a> {
        self.headers.push((name, value.into()));
        self
    }
}

/// Sends a request to the server at `base_url` and checks the response
/// against `api`'s spec. Tests use [`TestServer::send`]; this is for a server
/// the test started as a process.
pub async fn send(
    http: &reqwest::Client,
    base_url: &str,
    api: Api,
    request: Request<'_>,
) -> TestResponse {
    let url = format!("{base_url}{}", request.path);
    let mut builder = http.request(request.method.parse().expect("method"), url);
    for (name, value) in &request.headers {
        builder = builder.header(*name, value.as_str());
    }
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let response = builder.send().await.expect("request is answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("response body");
    TestResponse::checked(api, request.method, request.path, status, headers, &bytes)
}

/// Executes a request one of the generated clients built, checks the response
/// against `api`'s spec like [`TestServer::send`] does, and hands the client an
/// identical response. The clients' `ClientHooks::exec` (tests/it/clients.rs).
pub async fn execute_checked(
    api: Api,
    client: &reqwest::Client,
    request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    let method = request.method().to_string();
    let url = request.url();
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let response = client.execute(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    TestResponse::checked(
        api,
        &method,
        &path_and_query,
        status.as_u16(),
        headers.clone(),
        &bytes,
    );
    let mut rebuilt = http::Response::new(bytes);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// The documented operation that answered, as the spec check found it.
    pub operation: Option<String>,
}

impl TestResponse {
    /// Reads a response and checks it against `api`'s spec.
    fn checked(
        api: Api,
        method: &str,
        path_and_query: &str,
        status: u16,
        headers: reqwest::header::HeaderMap,
        bytes: &[u8],
    ) -> TestResponse {
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).unwrap_or_else(|e| {
                panic!(
                    "response is not JSON ({e}): {}",
                    String::from_utf8_lossy(bytes)
                )
            })
        };
        let mut response = TestResponse {
            status,
            headers,
            body,
            operation: None,
        };
        response.operation = spec::check(api, method, path_and_query, &response);
        response
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// What a snapshot records: the status, the headers that matter, and the
    /// body with ids, secrets, times and request ids redacted.
    pub fn snapshot(&self) -> Value {
        let mut headers = serde_json::Map::new();
        for name in ["content-type", "unkey-request-id", "www-authenticate"] {
            if let Some(value) = self.header(name) {
                let value = if name == "unkey-request-id" {
                    "[request-id]"
                } else {
                    value
                };
                headers.insert(name.to_string(), json!(value));
            }
        }
        let mut body = self.body.clone();
        redact(&mut body);
        json!({ "operation": self.operation, "status": self.status, "headers": headers, "body": body })
    }
}

/// Replaces what differs between runs by what it is.
fn redact(value: &mut Value) {
    const IDS: [&str; 7] = [
        "id",
        "keyId",
        "apiId",
        "workspaceId",
        "cursor",
        "accessKeyId",
        "projectId",
    ];
    const TIMES: [&str; 7] = [
        "createdAt",
        "lastRefillAt",
        "expires",
        "reset",
        "time",
        "createTime",
        "updateTime",
    ];
    const SECRETS: [&str; 4] = ["key", "start", "secret", "access_token"];
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                let placeholder = if name == "requestId" {
                    Some("[request-id]")
                } else if IDS.contains(&name.as_str()) {
                    Some("[id]")
                } else if TIMES.contains(&name.as_str()) {
                    Some("[time]")
                } else if SECRETS.contains(&name.as_str()) {
                    Some("[secret]")
                } else {
                    None
                };
                match placeholder {
                    Some(p) if !field.is_null() && !field.is_object() => *field = json!(p),
                    _ => redact(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => *text = redact_ids(text),
        _ => {}
    }
}

/// Replaces generated ids inside text, such as `api_3Kug…` or a UUID in a message.
pub fn redact_ids(text: &str) -> String {
    const PREFIXES: [&str; 6] = ["api_", "key_", "ws_", "rlns_", "role_", "perm_"];
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_token_char) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let token = &rest[..end];
        match PREFIXES.iter().find(|p| token.starts_with(*p)) {
            Some(prefix) if token.len() >= prefix.len() + 20 => {
                out.push_str(&format!("{prefix}[id]"))
            }
            _ if uuid::Uuid::try_parse(token).is_ok() => out.push_str("[uuid]"),
            _ => out.push_str(token),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Asserts a reviewed snapshot in `snapshots/`, with request ids redacted.
#[macro_export]
macro_rules! assert_response_snapshot {
    ($name:expr, $response:expr) => {{
        let snapshot = $response.snapshot();
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_json_snapshot!($name, snapshot));
    }};
}
