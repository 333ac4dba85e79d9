use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn renames_a_key_and_moves_its_update_time() {
    let fx = Fixture::new().await;
    let (id, _) = fx.create("before").await;
    fx.server.clock.advance_ms(5000);
    let response = fx
        .call(
            "PATCH",
            &fx.key_path(&id),
            Some(json!({"displayName": "after"})),
            Some(&fx.auth()),
        )
        .await;
    assert_response_snapshot!("sinch_update_access_key_200", response);
    assert_eq!(response.body["displayName"], json!("after"));
    assert_ne!(response.body["updateTime"], response.body["createTime"]);
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (id, _) = fx.create("one").await;
    fx.create("two").await;
    let clash = fx
        .call(
            "PATCH",
            &fx.key_path(&id),
            Some(json!({"displayName": "two"})),
            Some(&fx.auth()),
        )
        .await;
    assert_error(&clash, 409, "ALREADY_EXISTS");
    assert_response_snapshot!("sinch_update_access_key_409", clash);
    let empty = fx
        .call(
            "PATCH",
            &fx.key_path(&id),
            Some(json!({"displayName": ""})),
            Some(&fx.auth()),
        )
        .await;
    assert_error(&empty, 400, "INVALID_ARGUMENT");
    let body = Some(json!({"displayName": "three"}));
    assert_response_snapshot!(
        "sinch_update_access_key_401",
        fx.call("PATCH", &fx.key_path(&id), body.clone(), None)
            .await
    );
    let (_, other_auth) = fx.other_project().await;
    assert_response_snapshot!(
        "sinch_update_access_key_403",
        fx.call("PATCH", &fx.key_path(&id), body.clone(), Some(&other_auth))
            .await
    );
    let unknown = fx
        .call("PATCH", &fx.key_path("nope"), body, Some(&fx.auth()))
        .await;
    assert_response_snapshot!("sinch_update_access_key_404", unknown);
    fx.shutdown().await;
}
