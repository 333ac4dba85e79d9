use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn deleting_an_api_deletes_its_keys() {
    let fx = Fixture::new().await;
    let (key_id, key) = fx.create_key(json!({})).await;
    assert_eq!(fx.verify(&key, json!({})).await.body["valid"], json!(true));
    let response = fx
        .post("/v1/apis.deleteApi", json!({"apiId": fx.api_id}))
        .await;
    assert_response_snapshot!("unkey_apis_delete_api_200", response);
    assert_eq!(
        fx.verify(&key, json!({})).await.body["code"],
        json!("NOT_FOUND")
    );
    assert_eq!(
        fx.get(&format!("/v1/keys.getKey?keyId={key_id}"))
            .await
            .status,
        404
    );
    assert_eq!(
        fx.get(&format!("/v1/apis.getApi?apiId={}", fx.api_id))
            .await
            .status,
        404
    );
    let create = fx
        .post("/v1/keys.createKey", json!({"apiId": fx.api_id}))
        .await;
    assert_eq!(create.status, 404);
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let body = json!({"apiId": fx.api_id});
    assert_response_snapshot!(
        "unkey_apis_delete_api_400",
        fx.post("/v1/apis.deleteApi", json!({"api": 1})).await
    );
    assert_response_snapshot!(
        "unkey_apis_delete_api_401",
        fx.call("/v1/apis.deleteApi", Some(body.clone()), None)
            .await
    );
    let reader = fx.root_key(&["api.*.read_api"]).await;
    let forbidden = fx
        .call("/v1/apis.deleteApi", Some(body.clone()), Some(&reader))
        .await;
    assert_error(&forbidden, 403, "delete_api");
    assert_response_snapshot!("unkey_apis_delete_api_403", forbidden);
    let other = fx.other_workspace_root_key().await;
    assert_response_snapshot!(
        "unkey_apis_delete_api_404",
        fx.call("/v1/apis.deleteApi", Some(body), Some(&other))
            .await
    );
    assert_eq!(
        fx.get(&format!("/v1/apis.getApi?apiId={}", fx.api_id))
            .await
            .status,
        200,
        "still there"
    );
    fx.shutdown().await;
}
