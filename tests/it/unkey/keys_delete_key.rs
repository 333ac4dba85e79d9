use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn a_deleted_key_never_verifies_again_at_once() {
    let fx = Fixture::new().await;
    let (key_id, key) = fx.create_key(json!({})).await;
    // Warm the cache first: deletion must still win immediately.
    assert_eq!(fx.verify(&key, json!({})).await.body["valid"], json!(true));
    let response = fx
        .post("/v1/keys.deleteKey", json!({"keyId": key_id}))
        .await;
    assert_response_snapshot!("unkey_keys_delete_key_200", response);
    assert_eq!(
        fx.verify(&key, json!({})).await.body["code"],
        json!("NOT_FOUND")
    );
    assert_error(
        &fx.post("/v1/keys.deleteKey", json!({"keyId": key_id}))
            .await,
        404,
        "not found",
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (key_id, _) = fx.create_key(json!({})).await;
    let body = json!({"keyId": key_id});
    assert_response_snapshot!(
        "unkey_keys_delete_key_400",
        fx.post("/v1/keys.deleteKey", json!({})).await
    );
    assert_response_snapshot!(
        "unkey_keys_delete_key_401",
        fx.call("/v1/keys.deleteKey", Some(body.clone()), None)
            .await
    );
    let reader = fx.root_key(&["api.*.read_key"]).await;
    let forbidden = fx
        .call("/v1/keys.deleteKey", Some(body.clone()), Some(&reader))
        .await;
    assert_error(&forbidden, 403, "delete_key");
    assert_response_snapshot!("unkey_keys_delete_key_403", forbidden);
    let other = fx.other_workspace_root_key().await;
    let hidden = fx
        .call("/v1/keys.deleteKey", Some(body), Some(&other))
        .await;
    assert_response_snapshot!("unkey_keys_delete_key_404", hidden);
    assert_eq!(
        fx.get(&format!("/v1/keys.getKey?keyId={key_id}"))
            .await
            .status,
        200,
        "still there"
    );
    fx.shutdown().await;
}
