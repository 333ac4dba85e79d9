use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn increment_decrement_and_set() {
    let fx = Fixture::new().await;
    let (key_id, key) = fx.create_key(json!({"remaining": 1})).await;
    fx.verify(&key, json!({})).await;
    assert_eq!(
        fx.verify(&key, json!({})).await.body["code"],
        json!("USAGE_EXCEEDED")
    );

    let response = fx
        .post(
            "/v1/keys.updateRemaining",
            json!({"keyId": key_id, "op": "increment", "value": 5}),
        )
        .await;
    assert_response_snapshot!("unkey_keys_update_remaining_200", response);
    assert_eq!(
        fx.verify(&key, json!({})).await.body["remaining"],
        json!(4),
        "usable again at once"
    );
    let decremented = fx
        .post(
            "/v1/keys.updateRemaining",
            json!({"keyId": key_id, "op": "decrement", "value": 2}),
        )
        .await;
    assert_eq!(decremented.body["remaining"], json!(2));
    let set = fx
        .post(
            "/v1/keys.updateRemaining",
            json!({"keyId": key_id, "op": "set", "value": 7}),
        )
        .await;
    assert_eq!(set.body["remaining"], json!(7));
    let unlimited = fx
        .post(
            "/v1/keys.updateRemaining",
            json!({"keyId": key_id, "op": "set", "value": null}),
        )
        .await;
    assert_eq!(unlimited.body["remaining"], json!(null));
    assert!(
        fx.verify(&key, json!({}))
            .await
            .body
            .get("remaining")
            .is_none()
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (key_id, _) = fx.create_key(json!({})).await;
    let unlimited = fx
        .post(
            "/v1/keys.updateRemaining",
            json!({"keyId": key_id, "op": "increment", "value": 1}),
        )
        .await;
    assert_error(&unlimited, 400, "unlimited");
    assert_response_snapshot!("unkey_keys_update_remaining_400", unlimited);
    let by_null = fx
        .post(
            "/v1/keys.updateRemaining",
            json!({"keyId": key_id, "op": "decrement", "value": null}),
        )
        .await;
    assert_error(&by_null, 400, "null");
    assert_error(
        &fx.post(
            "/v1/keys.updateRemaining",
            json!({"keyId": key_id, "op": "double", "value": 1}),
        )
        .await,
        400,
        "op",
    );

    let body = json!({"keyId": key_id, "op": "set", "value": 1});
    assert_response_snapshot!(
        "unkey_keys_update_remaining_401",
        fx.call("/v1/keys.updateRemaining", Some(body.clone()), None)
            .await
    );
    let reader = fx.root_key(&["api.*.read_key"]).await;
    let forbidden = fx
        .call("/v1/keys.updateRemaining", Some(body), Some(&reader))
        .await;
    assert_response_snapshot!("unkey_keys_update_remaining_403", forbidden);
    let missing = fx
        .post(
            "/v1/keys.updateRemaining",
            json!({"keyId": "key_nope", "op": "set", "value": 1}),
        )
        .await;
    assert_response_snapshot!("unkey_keys_update_remaining_404", missing);
    fx.shutdown().await;
}
