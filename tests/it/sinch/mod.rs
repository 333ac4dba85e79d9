//! The Sinch Access Keys API and its token endpoint, one module per operation.

mod create_access_key;
mod delete_access_key;
mod get_access_key;
mod list_access_keys;
mod oauth2_token;
mod official_sdk;
mod signing_keys;
mod update_access_key;

use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Api, Request, TestResponse, TestServer};
use base64::Engine;
use serde_json::{Value, json};

pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A server, its bootstrap project, and shortcuts for the Sinch API.
pub struct Fixture {
    pub server: TestServer,
    pub project_id: String,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let server = TestServer::start().await;
        let project_id = server.bootstrap().sinch.project_id.clone();
        Fixture { server, project_id }
    }

    /// The bootstrap key's Basic credentials.
    pub fn auth(&self) -> String {
        basic(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    }

    pub fn keys_path(&self) -> String {
        format!("/v1/projects/{}/accessKeys", self.project_id)
    }

    pub fn key_path(&self, access_key_id: &str) -> String {
        format!(
            "/v1/projects/{}/accessKeys/{access_key_id}",
            self.project_id
        )
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        auth: Option<&str>,
    ) -> TestResponse {
        let mut request = Request::new(method, path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        self.server.send(Api::Sinch, request).await
    }

    /// Creates a key with the bootstrap credentials; returns (id, secret).
    pub async fn create(&self, display_name: &str) -> (String, String) {
        let response = self
            .call(
                "POST",
                &self.keys_path(),
                Some(json!({"displayName": display_name})),
                Some(&self.auth()),
            )
            .await;
        assert_eq!(response.status, 200, "create: {}", response.body);
        let id = response.body["accessKey"]["accessKeyId"]
            .as_str()
            .unwrap()
            .to_string();
        (id, response.body["secret"].as_str().unwrap().to_string())
    }

    /// `POST /oauth2/token` with a form body and optional Basic credentials.
    pub async fn token_request(&self, form: &str, auth: Option<&str>) -> TestResponse {
        let mut request =
            Request::post("/oauth2/token").raw("application/x-www-form-urlencoded", form);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        self.server.send(Api::OAuth, request).await
    }

    /// A token for the bootstrap key.
    pub async fn token(&self) -> String {
        let response = self
            .token_request("grant_type=client_credentials", Some(&self.auth()))
            .await;
        assert_eq!(response.status, 200, "token: {}", response.body);
        response.body["access_token"].as_str().unwrap().to_string()
    }

    /// Another project, with its first key's Basic credentials.
    pub async fn other_project(&self) -> (String, String) {
        let issued =
            keyward::domain::admin::create_project(&self.server.storage(), 0, "other", None)
                .await
                .unwrap();
        (
            issued.project_id,
            basic(&issued.access_key_id, &issued.secret),
        )
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The status and canonical status a failed call must answer.
pub fn assert_error(response: &TestResponse, status: u16, canonical: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(
        response.body["error"]["status"],
        json!(canonical),
        "{}",
        response.body
    );
}
