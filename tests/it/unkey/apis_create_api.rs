use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn creates_an_api() {
    let fx = Fixture::new().await;
    let response = fx
        .post("/v1/apis.createApi", json!({"name": "payments"}))
        .await;
    assert_response_snapshot!("unkey_apis_create_api_200", response);
    let api_id = response.body["apiId"].as_str().unwrap();
    assert!(api_id.starts_with("api_"));
    assert_eq!(
        fx.get(&format!("/v1/apis.getApi?apiId={api_id}"))
            .await
            .body["name"],
        json!("payments")
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let short = fx.post("/v1/apis.createApi", json!({"name": "ab"})).await;
    assert_error(&short, 400, "name");
    assert_response_snapshot!("unkey_apis_create_api_400", short);
    let body = json!({"name": "payments"});
    assert_response_snapshot!(
        "unkey_apis_create_api_401",
        fx.call("/v1/apis.createApi", Some(body.clone()), None)
            .await
    );
    let reader = fx.root_key(&["api.*.read_api"]).await;
    let forbidden = fx
        .call("/v1/apis.createApi", Some(body.clone()), Some(&reader))
        .await;
    assert_error(&forbidden, 403, "api.*.create_api");
    assert_response_snapshot!("unkey_apis_create_api_403", forbidden);
    let creator = fx.root_key(&["api.*.create_api"]).await;
    assert_eq!(
        fx.call("/v1/apis.createApi", Some(body), Some(&creator))
            .await
            .status,
        200
    );
    fx.shutdown().await;
}
