//! Every route answers in its API's own error shape, including what dropshot
//! rejects before a handler runs: 400 for bad input, 405 for a wrong method.

use crate::assert_response_snapshot;
use crate::common::{Api, Request, TestServer};
use serde_json::{Value, json};

fn basic_auth() -> String {
    use base64::Engine;
    let credentials = format!(
        "{}:{}",
        crate::common::ACCESS_KEY_ID,
        crate::common::ACCESS_KEY_SECRET
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

#[tokio::test]
async fn bootstrap_uses_the_given_credentials() {
    let server = TestServer::start().await;
    let bootstrap = server.bootstrap();
    assert_eq!(bootstrap.unkey.root_key, crate::common::ROOT_KEY);
    assert_eq!(bootstrap.unkey.permissions, vec!["*".to_string()]);
    assert_eq!(bootstrap.sinch.access_key_id, crate::common::ACCESS_KEY_ID);
    assert_eq!(bootstrap.sinch.secret, crate::common::ACCESS_KEY_SECRET);
    server.shutdown().await;
}

#[tokio::test]
async fn liveness_reports_its_services() {
    let server = TestServer::start().await;
    let response = server.send(Api::Unkey, Request::get("/v1/liveness")).await;
    assert_eq!(response.status, 200);
    assert_response_snapshot!("unkey_liveness_200", response);
    server.shutdown().await;
}

#[tokio::test]
async fn the_request_id_is_dropshots_own() {
    let server = TestServer::start().await;
    let response = server.send(Api::Unkey, Request::get("/v1/liveness")).await;
    let dropshot_id = response
        .header("x-request-id")
        .expect("dropshot's request id")
        .replace('-', "");
    assert_eq!(
        response.header("unkey-request-id"),
        Some(format!("req_{dropshot_id}").as_str())
    );
    let error = server
        .send(Api::Unkey, Request::get("/v1/keys.getKey"))
        .await;
    let dropshot_id = error
        .header("x-request-id")
        .expect("dropshot's request id")
        .replace('-', "");
    assert_eq!(
        error.body["error"]["requestId"],
        json!(format!("req_{dropshot_id}"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn framework_errors_answer_in_the_unkey_shape() {
    let server = TestServer::start().await;
    let cases: Vec<(&str, Request<'_>)> = vec![
        (
            "unkey_400_malformed_json",
            Request::post("/v1/keys.createKey").raw("application/json", "{\"apiId\":"),
        ),
        (
            "unkey_400_wrong_content_type",
            Request::post("/v1/keys.createKey").raw("text/plain", "apiId=api_1"),
        ),
        (
            "unkey_400_missing_body_field",
            Request::post("/v1/keys.createKey").json(&json!({"name": "k"})),
        ),
        (
            "unkey_400_missing_query_parameter",
            Request::get("/v1/keys.getKey"),
        ),
        (
            "unkey_400_mistyped_query_parameter",
            Request::get("/v1/apis.listKeys?apiId=api_1&limit=many"),
        ),
        (
            "unkey_400_wrong_body_type",
            Request::post("/v1/keys.createKey").json(&json!({"apiId": 42})),
        ),
        (
            // `null` is not a spelling of "absent" where the schema is not nullable.
            "unkey_400_null_for_optional_field",
            Request::post("/v1/ratelimits.limit").json(&json!({
                "identifier": "u", "limit": 1, "duration": 1000,
                "resources": [{"id": "r", "type": "t", "name": null}]
            })),
        ),
        (
            "unkey_405_wrong_method",
            Request::new("PUT", "/v1/keys.getKey"),
        ),
        (
            "unkey_405_wrong_method_on_path_with_variable",
            Request::new("DELETE", "/v1/apis/api_1/keys"),
        ),
    ];
    for (name, request) in cases {
        let response = server.send(Api::Unkey, request).await;
        assert!(
            matches!(response.status, 400 | 405),
            "{name}: {}",
            response.status
        );
        assert_response_snapshot!(name, response);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn framework_errors_answer_in_the_sinch_shape() {
    let server = TestServer::start().await;
    let cases: Vec<(&str, Request<'_>)> = vec![
        (
            "sinch_400_malformed_json",
            Request::post("/v1/projects/p1/accessKeys").raw("application/json", "{"),
        ),
        (
            "sinch_400_mistyped_page_size",
            Request::get("/v1/projects/p1/accessKeys?pageSize=lots"),
        ),
        (
            "sinch_400_null_for_optional_field",
            Request::post("/v1/projects/p1/accessKeys").json(&json!({"displayName": null})),
        ),
        (
            "sinch_405_wrong_method",
            Request::new("PUT", "/v1/projects/p1/accessKeys"),
        ),
    ];
    let project = server.bootstrap().sinch.project_id.clone();
    for (name, request) in cases {
        // Sinch checks credentials first, and they are for the bootstrap project.
        let path = request.path.replace("/p1/", &format!("/{project}/"));
        let request = Request {
            path: &path,
            ..request
        }
        .header("authorization", basic_auth());
        let response = server.send(Api::Sinch, request).await;
        assert!(
            matches!(response.status, 400 | 405),
            "{name}: {}",
            response.status
        );
        assert_response_snapshot!(name, response);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bodies_up_to_64_kib_are_read_and_larger_ones_refused() {
    let server = TestServer::start().await;
    let padded = |bytes: usize| json!({"apiId": "api_1", "name": "x".repeat(bytes)});

    let fits = server
        .send(
            Api::Unkey,
            Request::post("/v1/keys.createKey").json(&padded(60 * 1024)),
        )
        .await;
    // Read and parsed; then the missing root key is what is wrong.
    assert_eq!(fits.status, 401, "a 60 KiB body is read: {}", fits.body);

    let unkey = server
        .send(
            Api::Unkey,
            Request::post("/v1/keys.createKey").json(&padded(65 * 1024)),
        )
        .await;
    assert_response_snapshot!("unkey_400_body_too_large", unkey);
    let path = format!(
        "/v1/projects/{}/accessKeys",
        server.bootstrap().sinch.project_id
    );
    let too_large = Request::post(&path)
        .json(&json!({"displayName": "x".repeat(65 * 1024)}))
        .header("authorization", basic_auth());
    let sinch = server.send(Api::Sinch, too_large).await;
    assert_eq!(sinch.status, 400);
    assert_response_snapshot!("sinch_400_body_too_large", sinch);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_path_gets_dropshots_own_404() {
    // The one documented exception: no route can catch paths beside literal ones.
    let server = TestServer::start().await;
    let response = server.send(Api::Unkey, Request::get("/v1/keys.nope")).await;
    assert_eq!(response.status, 404);
    assert_eq!(response.body["message"], json!("Not Found"));
    server.shutdown().await;
}

#[tokio::test]
async fn the_served_specs_are_the_overlaid_specs() {
    // `/openapi/{document}` is keyward's own route, in neither spec, so there
    // is no documented response to check against: the body is compared whole.
    let server = TestServer::start().await;
    let generated = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    let unkey = generated(keyward::generated::unkey::DOCUMENT);
    // The overlay's own deviation is there; the upstream file does not have it.
    assert_eq!(
        unkey["components"]["schemas"]["V1KeysVerifyKeyResponse"]["required"],
        json!(["valid", "code", "requestId"])
    );
    for (document, expected) in [
        ("unkey.json", unkey),
        (
            "sinch.json",
            generated(keyward::generated::sinch_access_keys::DOCUMENT),
        ),
    ] {
        let url = format!("{}/openapi/{document}", server.base_url);
        let served: Value = server
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(served, expected, "{document}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn echoed_values_are_cut_to_64_characters() {
    let server = TestServer::start().await;
    let long = "k".repeat(60_000);
    let unkey = server
        .send(
            Api::Unkey,
            Request::get(&format!("/v1/keys.getKey?keyId={long}")).header(
                "authorization",
                format!("Bearer {}", crate::common::ROOT_KEY),
            ),
        )
        .await;
    assert_eq!(unkey.status, 404);
    let message = unkey.body["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(message, format!("key {}… not found", "k".repeat(64)));

    let sinch = server
        .send(
            Api::Sinch,
            Request::get(&format!("/v1/projects/{long}/accessKeys"))
                .header("authorization", basic_auth()),
        )
        .await;
    assert_eq!(sinch.status, 403);
    let message = sinch.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.len() < 200, "{message}");
    assert!(
        message.ends_with(&format!("{}…", "k".repeat(64))),
        "{message}"
    );
    server.shutdown().await;
}
