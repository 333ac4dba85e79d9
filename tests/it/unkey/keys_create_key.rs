use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn creates_a_key_shown_once() {
    let fx = Fixture::new().await;
    let response = fx
        .post(
            "/v1/keys.createKey",
            json!({"apiId": fx.api_id, "prefix": "sk", "byteLength": 24, "ownerId": "user_1", "meta": {"plan": "pro"}}),
        )
        .await;
    assert_response_snapshot!("unkey_keys_create_key_200", response);
    let key = response.body["key"].as_str().unwrap();
    let encoded = key.strip_prefix("sk_").expect("prefix and separator");
    let bytes = bs58::decode(encoded).into_vec().expect("base58");
    assert_eq!(
        (bytes[0], bytes[1], bytes.len()),
        (1, 24, 26),
        "[version, byteLength, random bytes]"
    );

    let key_id = response.body["keyId"].as_str().unwrap();
    let stored = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
    assert_eq!(
        stored.body["start"],
        json!(&key[..7]),
        "start is the prefix and 4 characters"
    );
    assert!(
        !stored.body.to_string().contains(key),
        "the key is never shown again"
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn invalid_fields_are_400_naming_the_field() {
    let fx = Fixture::new().await;
    let cases = [
        (json!({"byteLength": 15}), "byteLength"),
        (json!({"byteLength": 256}), "byteLength"),
        (json!({"prefix": "ninechars"}), "prefix"),
        (json!({"remaining": 0}), "remaining"),
        (
            json!({"refill": {"interval": "daily", "amount": 5}}),
            "refill",
        ),
        (
            json!({"ratelimit": {"type": "fast", "limit": 1, "refillRate": 0, "refillInterval": 1000}}),
            "refillRate",
        ),
        (
            json!({"refill": {"interval": "weekly", "amount": 5}, "remaining": 1}),
            "interval",
        ),
        (json!({"roles": ["ghost"]}), "ghost"),
    ];
    for (fields, named) in cases {
        let mut body = json!({"apiId": fx.api_id});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let response = fx.post("/v1/keys.createKey", body).await;
        assert_error(&response, 400, named);
    }
    let response = fx
        .post(
            "/v1/keys.createKey",
            json!({"apiId": fx.api_id, "remaining": 0}),
        )
        .await;
    assert_response_snapshot!("unkey_keys_create_key_400", response);
    fx.shutdown().await;
}

#[tokio::test]
async fn needs_a_root_key_with_create_key() {
    let fx = Fixture::new().await;
    let body = json!({"apiId": fx.api_id});
    let missing = fx
        .call("/v1/keys.createKey", Some(body.clone()), None)
        .await;
    assert_response_snapshot!("unkey_keys_create_key_401", missing);
    let unknown = fx
        .call("/v1/keys.createKey", Some(body.clone()), Some("unkey_nope"))
        .await;
    assert_error(&unknown, 401, "not valid");

    let reader = fx.root_key(&["api.*.read_key"]).await;
    let forbidden = fx
        .call("/v1/keys.createKey", Some(body.clone()), Some(&reader))
        .await;
    assert_error(&forbidden, 403, "api.*.create_key");
    assert_response_snapshot!("unkey_keys_create_key_403", forbidden);

    let scoped = fx
        .root_key(&[&format!("api.{}.create_key", fx.api_id)])
        .await;
    let allowed = fx
        .call("/v1/keys.createKey", Some(body), Some(&scoped))
        .await;
    assert_eq!(allowed.status, 200);
    fx.shutdown().await;
}

#[tokio::test]
async fn another_workspaces_api_is_not_found() {
    let fx = Fixture::new().await;
    let other = fx.other_workspace_root_key().await;
    let response = fx
        .call(
            "/v1/keys.createKey",
            Some(json!({"apiId": fx.api_id})),
            Some(&other),
        )
        .await;
    assert_error(&response, 404, "not found");
    assert_response_snapshot!("unkey_keys_create_key_404", response);
    fx.shutdown().await;
}

#[tokio::test]
async fn roles_are_attached_by_name() {
    let fx = Fixture::new().await;
    fx.role("reader", &["documents.read"]).await;
    let (key_id, _) = fx.create_key(json!({"roles": ["reader"]})).await;
    let key = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
    assert_eq!(key.body["roles"], json!(["reader"]));
    fx.shutdown().await;
}
