//! The legacy routes: `POST /v1/keys`, `POST /v1/keys/verify` and
//! `GET /v1/apis/{apiId}/keys`.

use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn create_and_verify() {
    let fx = Fixture::new().await;
    // Any root key of the workspace may create keys here.
    let any = fx.root_key(&[]).await;
    let created = fx
        .call(
            "/v1/keys",
            Some(json!({"apiId": fx.api_id, "prefix": "lg", "remaining": 1})),
            Some(&any),
        )
        .await;
    assert_response_snapshot!("unkey_post_keys_200", created);
    let key = created.body["key"].as_str().unwrap().to_string();

    let valid = fx
        .call("/v1/keys/verify", Some(json!({"key": key})), None)
        .await;
    assert_response_snapshot!("unkey_post_keys_verify_200", valid);
    let exceeded = fx
        .call("/v1/keys/verify", Some(json!({"key": key})), None)
        .await;
    assert_eq!(exceeded.body["code"], json!("USAGE_EXCEEDED"));
    let unknown = fx
        .call("/v1/keys/verify", Some(json!({"key": "nope"})), None)
        .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (200, json!("NOT_FOUND")),
        "200, as its spec says"
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn create_errors() {
    let fx = Fixture::new().await;
    assert_response_snapshot!(
        "unkey_post_keys_400",
        fx.post("/v1/keys", json!({"apiId": fx.api_id, "byteLength": 8}))
            .await
    );
    assert_response_snapshot!(
        "unkey_post_keys_401",
        fx.call("/v1/keys", Some(json!({"apiId": fx.api_id})), None)
            .await
    );
    let other = fx.other_workspace_root_key().await;
    assert_response_snapshot!(
        "unkey_post_keys_404",
        fx.call("/v1/keys", Some(json!({"apiId": fx.api_id})), Some(&other))
            .await
    );
    assert_response_snapshot!(
        "unkey_post_keys_verify_400",
        fx.call("/v1/keys/verify", Some(json!({})), None).await
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn list_pages_by_offset() {
    let fx = Fixture::new().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(fx.create_key(json!({})).await.0);
    }
    ids.sort();
    let page = fx
        .get(&format!("/v1/apis/{}/keys?limit=2&offset=1", fx.api_id))
        .await;
    let listed: Vec<&str> = page.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ids[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(page.body["total"], json!(3));
    let first = fx
        .get(&format!("/v1/apis/{}/keys?limit=1", fx.api_id))
        .await;
    assert_response_snapshot!("unkey_get_apis_api_id_keys_200", first);

    let path = format!("/v1/apis/{}/keys", fx.api_id);
    assert_error(&fx.get(&format!("{path}?offset=-1")).await, 400, "offset");
    assert_response_snapshot!(
        "unkey_get_apis_api_id_keys_400",
        fx.get(&format!("{path}?limit=500")).await
    );
    assert_response_snapshot!(
        "unkey_get_apis_api_id_keys_401",
        fx.call(&path, None, None).await
    );
    let other = fx.other_workspace_root_key().await;
    assert_response_snapshot!(
        "unkey_get_apis_api_id_keys_404",
        fx.call(&path, None, Some(&other)).await
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn a_disabled_workspace_is_403_on_the_legacy_routes() {
    let fx = Fixture::new().await;
    let (_, key) = fx.create_key(json!({})).await;
    let verify = fx.disable_workspace("/v1/keys/verify", &key).await;
    assert_response_snapshot!("unkey_post_keys_verify_403", verify);
    let create = fx.post("/v1/keys", json!({"apiId": fx.api_id})).await;
    assert_error(&create, 403, "workspace is disabled");
    assert_response_snapshot!("unkey_post_keys_403", create);
    let list = fx.get(&format!("/v1/apis/{}/keys", fx.api_id)).await;
    assert_error(&list, 403, "workspace is disabled");
    assert_response_snapshot!("unkey_get_apis_api_id_keys_403", list);
    fx.shutdown().await;
}
