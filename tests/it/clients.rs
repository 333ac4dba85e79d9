//! The generated progenitor clients, used as real clients against a server.

use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Api, ROOT_KEY, TestServer, execute_checked};

#[allow(dead_code, clippy::all, unused_imports, irrefutable_let_patterns)]
pub mod unkey {
    include!(concat!(env!("OUT_DIR"), "/unkey_client.rs"));
}

#[allow(dead_code, clippy::all, unused_imports, irrefutable_let_patterns)]
pub mod sinch {
    include!(concat!(env!("OUT_DIR"), "/sinch_access_keys_client.rs"));
}

/// Every response a generated client receives is checked against the spec,
/// like the raw-HTTP ones. Codegen asks for these impls (HooksMode::Expected),
/// so a client without the check does not compile.
macro_rules! checked_client {
    ($module:ident, $api:expr) => {
        impl progenitor_client::ClientHooks for $module::Client {
            async fn exec(
                &self,
                request: reqwest::Request,
                _info: &progenitor_client::OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                use progenitor_client::ClientInfo;
                execute_checked($api, self.client(), request).await
            }
        }
    };
}
checked_client!(unkey, Api::Unkey);
checked_client!(sinch, Api::Sinch);

fn authorized(header: String) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        header.parse().expect("header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

pub fn unkey_client(server: &TestServer) -> unkey::Client {
    unkey::Client::new_with_client(&server.base_url, authorized(format!("Bearer {ROOT_KEY}")))
}

pub fn sinch_client(server: &TestServer) -> sinch::Client {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{ACCESS_KEY_ID}:{ACCESS_KEY_SECRET}"));
    sinch::Client::new_with_client(&server.base_url, authorized(format!("Basic {basic}")))
}

#[tokio::test]
async fn the_unkey_client_reads_liveness() {
    let server = TestServer::start().await;
    let liveness = unkey_client(&server)
        .get_liveness()
        .send()
        .await
        .expect("liveness")
        .into_inner();
    assert_eq!(liveness.status, "ok");
    assert_eq!(liveness.services.usagelimit, "sqlite");
    server.shutdown().await;
}

#[tokio::test]
async fn the_unkey_client_creates_and_verifies_keys() {
    let server = TestServer::start().await;
    let client = unkey_client(&server);
    let api = client
        .apis_create_api()
        .body(unkey::types::ApisCreateApiBody {
            name: "client api".parse().expect("name"),
        })
        .send()
        .await
        .expect("createApi")
        .into_inner();
    let created = client
        .keys_create_key()
        .body_map(|body| {
            body.api_id(api.api_id.clone())
                .prefix(Some("cl".parse().expect("prefix")))
        })
        .send()
        .await
        .expect("createKey")
        .into_inner();
    assert!(created.key.starts_with("cl_"));
    let verified = client
        .keys_verify_key()
        .body_map(|body| {
            body.key(
                created
                    .key
                    .parse::<unkey::types::V1KeysVerifyKeyRequestKey>()
                    .expect("key"),
            )
            .api_id(Some(api.api_id.clone()))
        })
        .send()
        .await
        .expect("verifyKey")
        .into_inner();
    assert!(verified.valid);
    assert_eq!(verified.key_id.as_deref(), Some(created.key_id.as_str()));

    let missing = client.apis_get_api().api_id("api_missing").send().await;
    match missing {
        Err(unkey::Error::ErrorResponse(error)) => assert_eq!(error.status().as_u16(), 404),
        other => panic!("expected a documented 404, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_sinch_client_runs_the_whole_lifecycle() {
    let server = TestServer::start().await;
    let client = sinch_client(&server);
    let project = server.bootstrap().sinch.project_id.clone();
    let created = client
        .access_key_service_create_access_key()
        .project_id(&project)
        .body_map(|body| body.display_name(Some("from the client".to_string())))
        .send()
        .await
        .expect("create")
        .into_inner();
    let key = created.access_key.expect("the new key");
    let id = key.access_key_id.clone().expect("its id");
    assert!(created.secret.is_some_and(|s| s.len() >= 43));

    let renamed = client
        .access_key_service_update_access_key()
        .project_id(&project)
        .access_key_id(&id)
        .body_map(|body| body.display_name(Some("renamed".to_string())))
        .send()
        .await
        .expect("update")
        .into_inner();
    assert_eq!(renamed.display_name.as_deref(), Some("renamed"));
    let listed = client
        .access_key_service_list_access_keys()
        .project_id(&project)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.access_keys.len(), 2);
    assert_eq!(listed.next_page_token.as_deref(), Some(""));
    client
        .access_key_service_delete_access_key()
        .project_id(&project)
        .access_key_id(&id)
        .send()
        .await
        .expect("delete");
    let gone = client
        .access_key_service_get_access_key()
        .project_id(&project)
        .access_key_id(&id)
        .send()
        .await;
    assert_eq!(
        gone.expect_err("404").status().map(|s| s.as_u16()),
        Some(404)
    );
    server.shutdown().await;
}
