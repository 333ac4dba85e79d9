use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn absent_leaves_a_field_and_null_clears_it() {
    let fx = Fixture::new().await;
    let (key_id, key) = fx
        .create_key(json!({"name": "before", "ownerId": "user_1", "meta": {"a": 1}, "expires": 4_102_444_800_000i64,
                           "ratelimit": {"type": "fast", "limit": 1, "refillRate": 1, "refillInterval": 60000}}))
        .await;
    assert_eq!(fx.verify(&key, json!({})).await.body["valid"], json!(true));
    assert_eq!(
        fx.verify(&key, json!({})).await.body["code"],
        json!("RATE_LIMITED")
    );

    let response = fx
        .post(
            "/v1/keys.updateKey",
            json!({"keyId": key_id, "name": "after", "ownerId": null, "ratelimit": null}),
        )
        .await;
    assert_response_snapshot!("unkey_keys_update_key_200", response);
    let read = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
    assert_eq!(read.body["name"], json!("after"));
    assert!(read.body.get("ownerId").is_none(), "null cleared ownerId");
    assert!(
        read.body.get("ratelimit").is_none(),
        "null cleared the ratelimit"
    );
    assert_eq!(read.body["meta"], json!({"a": 1}), "absent left meta alone");
    assert_eq!(
        read.body["expires"],
        json!(4_102_444_800_000i64),
        "absent left expires alone"
    );
    assert_eq!(
        fx.verify(&key, json!({})).await.body["valid"],
        json!(true),
        "no longer rate limited, at once"
    );

    fx.post(
        "/v1/keys.updateKey",
        json!({"keyId": key_id, "enabled": false}),
    )
    .await;
    assert_eq!(
        fx.verify(&key, json!({})).await.body["code"],
        json!("DISABLED"),
        "disabling applies at once"
    );
    fx.post(
        "/v1/keys.updateKey",
        json!({"keyId": key_id, "meta": null, "expires": null}),
    )
    .await;
    let read = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
    assert!(read.body.get("meta").is_none() && read.body.get("expires").is_none());
    fx.shutdown().await;
}

#[tokio::test]
async fn setting_remaining_and_refill_applies_to_verification() {
    let fx = Fixture::new().await;
    let (key_id, key) = fx.create_key(json!({})).await;
    let refill_unlimited = fx
        .post(
            "/v1/keys.updateKey",
            json!({"keyId": key_id, "refill": {"interval": "daily", "amount": 3}}),
        )
        .await;
    assert_error(&refill_unlimited, 400, "refill");
    assert_response_snapshot!("unkey_keys_update_key_400", refill_unlimited);
    fx.post(
        "/v1/keys.updateKey",
        json!({"keyId": key_id, "remaining": 1, "refill": {"interval": "daily", "amount": 3}}),
    )
    .await;
    assert_eq!(fx.verify(&key, json!({})).await.body["remaining"], json!(0));
    assert_eq!(
        fx.verify(&key, json!({})).await.body["code"],
        json!("USAGE_EXCEEDED")
    );
    fx.post(
        "/v1/keys.updateKey",
        json!({"keyId": key_id, "remaining": null}),
    )
    .await;
    let unlimited = fx.verify(&key, json!({})).await;
    assert_eq!(unlimited.body["valid"], json!(true));
    assert!(unlimited.body.get("remaining").is_none());
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (key_id, _) = fx.create_key(json!({})).await;
    let body = json!({"keyId": key_id, "name": "x"});
    assert_response_snapshot!(
        "unkey_keys_update_key_401",
        fx.call("/v1/keys.updateKey", Some(body.clone()), None)
            .await
    );
    let reader = fx.root_key(&["api.*.read_key"]).await;
    let forbidden = fx
        .call("/v1/keys.updateKey", Some(body.clone()), Some(&reader))
        .await;
    assert_error(&forbidden, 403, "update_key");
    assert_response_snapshot!("unkey_keys_update_key_403", forbidden);
    fx.post("/v1/keys.deleteKey", json!({"keyId": key_id}))
        .await;
    let deleted = fx.post("/v1/keys.updateKey", body).await;
    assert_error(&deleted, 404, "not found");
    assert_response_snapshot!("unkey_keys_update_key_404", deleted);
    fx.shutdown().await;
}
