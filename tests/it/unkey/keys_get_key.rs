use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn reads_a_key_with_its_limits_and_roles() {
    let fx = Fixture::new().await;
    fx.role("reader", &["documents.read"]).await;
    let (key_id, _) = fx
        .create_key(json!({"name": "ci", "ownerId": "user_1", "meta": {"team": "a"}, "roles": ["reader"],
                           "remaining": 10, "refill": {"interval": "daily", "amount": 10},
                           "ratelimit": {"type": "consistent", "limit": 5, "refillRate": 1, "refillInterval": 1000}}))
        .await;
    let response = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body["id"], json!(key_id));
    assert_eq!(response.body["apiId"], json!(fx.api_id));
    assert_response_snapshot!("unkey_keys_get_key_200", response);
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (key_id, _) = fx.create_key(json!({})).await;
    let path = format!("/v1/keys.getKey?keyId={key_id}");

    let bad = fx.get("/v1/keys.getKey?keyId=").await;
    assert_error(&bad, 400, "keyId");
    assert_response_snapshot!("unkey_keys_get_key_400", bad);

    let unauthorized = fx.call(&path, None, None).await;
    assert_response_snapshot!("unkey_keys_get_key_401", unauthorized);

    let other_api = fx.root_key(&["api.api_someother.read_key"]).await;
    let forbidden = fx.call(&path, None, Some(&other_api)).await;
    assert_error(&forbidden, 403, &format!("api.{}.read_key", fx.api_id));
    assert_response_snapshot!("unkey_keys_get_key_403", forbidden);

    let other_workspace = fx.other_workspace_root_key().await;
    let hidden = fx.call(&path, None, Some(&other_workspace)).await;
    assert_error(&hidden, 404, &key_id);
    assert_response_snapshot!("unkey_keys_get_key_404", hidden);

    fx.post("/v1/keys.deleteKey", json!({"keyId": key_id}))
        .await;
    assert_error(&fx.get(&path).await, 404, "not found");
    fx.shutdown().await;
}
