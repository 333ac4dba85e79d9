//! The Unkey v1 API, one module per operation.

mod apis_create_api;
mod apis_delete_api;
mod apis_get_api;
mod apis_list_keys;
mod keys_create_key;
mod keys_delete_key;
mod keys_get_key;
mod keys_get_verifications;
mod keys_update_key;
mod keys_update_remaining;
mod keys_verify_key;
mod legacy;
mod migrations_create_keys;
mod official_python_sdk;
mod ratelimits_limit;

use crate::common::{Api, ROOT_KEY, Request, TestResponse, TestServer};
use serde_json::{Value, json};

/// A server with one api, and shortcuts for the Unkey API.
pub struct Fixture {
    pub server: TestServer,
    pub api_id: String,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let server = TestServer::start().await;
        let mut fixture = Fixture {
            server,
            api_id: String::new(),
        };
        let created = fixture
            .post("/v1/apis.createApi", json!({"name": "test api"}))
            .await;
        fixture.api_id = created.body["apiId"].as_str().expect("apiId").to_string();
        fixture
    }

    /// A request with an optional root key; `body` makes it a JSON POST.
    pub async fn call(
        &self,
        path: &str,
        body: Option<Value>,
        root_key: Option<&str>,
    ) -> TestResponse {
        let mut request = match &body {
            Some(body) => Request::post(path).json(body),
            None => Request::get(path),
        };
        if let Some(root_key) = root_key {
            request = request.header("authorization", format!("Bearer {root_key}"));
        }
        self.server.send(Api::Unkey, request).await
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.call(path, Some(body), Some(ROOT_KEY)).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.call(path, None, Some(ROOT_KEY)).await
    }

    /// Creates a key in the fixture's api; `fields` adds to the request.
    pub async fn create_key(&self, fields: Value) -> (String, String) {
        let mut body = json!({"apiId": self.api_id});
        if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
            body.extend(fields.clone());
        }
        let created = self.post("/v1/keys.createKey", body).await;
        assert_eq!(created.status, 200, "createKey: {}", created.body);
        (
            created.body["keyId"].as_str().unwrap().to_string(),
            created.body["key"].as_str().unwrap().to_string(),
        )
    }

    pub async fn verify(&self, key: &str, fields: Value) -> TestResponse {
        let mut body = json!({"key": key});
        if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
            body.extend(fields.clone());
        }
        let response = self.call("/v1/keys.verifyKey", Some(body), None).await;
        assert_eq!(response.status, 200, "verifyKey: {}", response.body);
        response
    }

    /// A root key of the fixture's workspace with exactly `permissions`.
    pub async fn root_key(&self, permissions: &[&str]) -> String {
        let workspace_id = &self.server.bootstrap().unkey.workspace_id;
        let permissions = permissions.iter().map(|p| p.to_string()).collect();
        keyward::domain::admin::create_root_key(
            &self.server.storage(),
            0,
            workspace_id,
            permissions,
            None,
        )
        .await
        .expect("root key")
        .root_key
    }

    /// A `*` root key of another workspace.
    pub async fn other_workspace_root_key(&self) -> String {
        keyward::domain::admin::create_workspace(&self.server.storage(), 0, "other", None)
            .await
            .expect("workspace")
            .root_key
    }

    pub async fn role(&self, name: &str, permissions: &[&str]) {
        let workspace_id = &self.server.bootstrap().unkey.workspace_id;
        let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
        keyward::domain::admin::create_role(
            &self.server.storage(),
            0,
            workspace_id,
            name,
            &permissions,
        )
        .await
        .expect("role");
    }

    /// Disables the fixture's workspace, as the CLI would, and waits until
    /// verifying `key` at `path` is refused: the server reads disabled
    /// workspaces again every second. Returns that refusal.
    pub async fn disable_workspace(&self, path: &str, key: &str) -> TestResponse {
        let workspace_id = self.server.bootstrap().unkey.workspace_id.clone();
        let now_ms = self.server.clock_secs() * 1000;
        keyward::domain::admin::disable_workspace(&self.server.storage(), now_ms, &workspace_id)
            .await
            .expect("disable");
        for _ in 0..30 {
            let attempt = self.call(path, Some(json!({"key": key})), None).await;
            if attempt.status == 403 {
                return attempt;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("verification at {path} was not refused within 3 s");
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The status and error code a failed call must answer.
pub fn assert_error(response: &TestResponse, status: u16, message_part: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    let message = response.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(message_part),
        "message {message:?} should contain {message_part:?}"
    );
}
