//! `migrations.createKeys` (the 2024-05-10 revision): keys made elsewhere,
//! imported by their SHA-256, all or none.

use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What Unkey exports for a key: SHA-256 in standard base64 with padding.
fn hash_of(plaintext: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(plaintext.as_bytes()))
}

fn item(api_id: &str, plaintext: &str) -> Value {
    json!({
        "apiId": api_id,
        "hash": {"value": hash_of(plaintext), "variant": "sha256_base64"},
        "start": &plaintext[..7],
    })
}

/// Whether `plaintext` verifies: what an import wrote, or did not.
async fn verifies(fx: &Fixture, plaintext: &str) -> bool {
    fx.verify(plaintext, json!({})).await.body["valid"] == json!(true)
}

#[tokio::test]
async fn imported_keys_verify_with_their_original_plaintext() {
    let fx = Fixture::new().await;
    fx.role("editor", &["docs.write"]).await;
    let mut first = item(&fx.api_id, "sk_imported_first_0001");
    first.as_object_mut().unwrap().extend(
        json!({
            "prefix": "sk", "name": "from unkey", "ownerId": "user_1", "meta": {"plan": "pro"},
            "remaining": 5, "refill": {"interval": "daily", "amount": 5},
            "ratelimit": {"type": "fast", "limit": 2, "refillRate": 1, "refillInterval": 60000},
            "roles": ["editor"], "environment": "test"
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    let second = item(&fx.api_id, "sk_imported_second_002");
    let response = fx
        .post("/v1/migrations.createKeys", json!([first, second]))
        .await;
    assert_response_snapshot!("unkey_migrations_create_keys_200", response);
    let ids = response.body["keyIds"].as_array().unwrap();
    assert_eq!(ids.len(), 2);

    let verified = fx.verify("sk_imported_first_0001", json!({})).await;
    assert_eq!(verified.body["valid"], json!(true), "{}", verified.body);
    assert_eq!(verified.body["keyId"], ids[0]);
    assert_eq!(verified.body["name"], json!("from unkey"));
    assert_eq!(verified.body["remaining"], json!(4));
    assert_eq!(verified.body["permissions"], json!(["docs.write"]));
    assert_eq!(verified.body["ratelimit"]["limit"], json!(2));

    let stored = fx
        .get(&format!(
            "/v1/keys.getKey?keyId={}",
            ids[1].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored.body["start"], json!("sk_impo"), "start as given");
    assert!(verifies(&fx, "sk_imported_second_002").await);
    assert!(!verifies(&fx, "sk_imported_second_003").await);
    fx.shutdown().await;
}

#[tokio::test]
async fn a_batch_is_all_or_nothing() {
    let fx = Fixture::new().await;
    let good = item(&fx.api_id, "sk_all_or_nothing_01");

    let unknown_api = item("api_nope", "sk_all_or_nothing_02");
    let response = fx
        .post("/v1/migrations.createKeys", json!([good, unknown_api]))
        .await;
    assert_error(&response, 404, "api_nope");
    assert_response_snapshot!("unkey_migrations_create_keys_404", response);

    let mut unknown_role = item(&fx.api_id, "sk_all_or_nothing_03");
    unknown_role["roles"] = json!(["ghost"]);
    let response = fx
        .post("/v1/migrations.createKeys", json!([good, unknown_role]))
        .await;
    assert_error(&response, 400, "[1].roles");
    assert_error(&response, 400, "ghost");

    let twice = fx
        .post("/v1/migrations.createKeys", json!([good, good]))
        .await;
    assert_error(&twice, 409, "[1].hash: the same key as item 0");

    let (_, existing) = fx.create_key(json!({})).await;
    let response = fx
        .post(
            "/v1/migrations.createKeys",
            json!([good, item(&fx.api_id, &existing)]),
        )
        .await;
    assert_error(
        &response,
        409,
        "[1].hash: a key with this hash exists already",
    );
    assert_response_snapshot!("unkey_migrations_create_keys_409", response);

    // None of the refused batches wrote its first item.
    assert!(!verifies(&fx, "sk_all_or_nothing_01").await);
    let imported = fx.post("/v1/migrations.createKeys", json!([good])).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert!(verifies(&fx, "sk_all_or_nothing_01").await);
    fx.shutdown().await;
}

#[tokio::test]
async fn needs_create_key_on_every_api_of_the_batch() {
    let fx = Fixture::new().await;
    let other_api = fx
        .post("/v1/apis.createApi", json!({"name": "second"}))
        .await
        .body["apiId"]
        .as_str()
        .unwrap()
        .to_string();
    let batch = json!([
        item(&fx.api_id, "sk_permission_one_1"),
        item(&other_api, "sk_permission_two_2")
    ]);
    let missing = fx
        .call("/v1/migrations.createKeys", Some(batch.clone()), None)
        .await;
    assert_response_snapshot!("unkey_migrations_create_keys_401", missing);

    let one_api = fx
        .root_key(&[&format!("api.{}.create_key", fx.api_id)])
        .await;
    let forbidden = fx
        .call(
            "/v1/migrations.createKeys",
            Some(batch.clone()),
            Some(&one_api),
        )
        .await;
    assert_error(&forbidden, 403, &format!("api.{other_api}.create_key"));
    assert_response_snapshot!("unkey_migrations_create_keys_403", forbidden);

    let both = fx
        .root_key(&[
            &format!("api.{}.create_key", fx.api_id),
            &format!("api.{other_api}.create_key"),
        ])
        .await;
    let allowed = fx
        .call("/v1/migrations.createKeys", Some(batch), Some(&both))
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    fx.shutdown().await;
}

#[tokio::test]
async fn the_batch_and_each_item_follow_the_schema() {
    let fx = Fixture::new().await;
    let too_many: Vec<Value> = (0..101)
        .map(|i| item(&fx.api_id, &format!("sk_too_many_{i:08}")))
        .collect();
    let response = fx.post("/v1/migrations.createKeys", json!(too_many)).await;
    assert_error(&response, 400, "the request body has more than 100 items");
    assert_response_snapshot!("unkey_migrations_create_keys_400", response);

    let mut null_name = item(&fx.api_id, "sk_null_name_0001");
    null_name["name"] = Value::Null;
    let mut bad_variant = item(&fx.api_id, "sk_bad_variant_01");
    bad_variant["hash"]["variant"] = json!("md5");
    let mut not_a_digest = item(&fx.api_id, "sk_not_a_digest_1");
    not_a_digest["hash"]["value"] = json!("c2hvcnQ=");
    let mut long_prefix = item(&fx.api_id, "sk_long_prefix_01");
    long_prefix["prefix"] = json!("ninechars");
    let cases = [
        (
            json!({"apiId": fx.api_id}),
            "the request body is not of type \"array\"",
        ),
        (json!([null_name]), "[0].name must not be null"),
        (json!([bad_variant]), "[0].hash.variant"),
        (
            json!([not_a_digest]),
            "[0].hash.value: not a SHA-256 digest",
        ),
        (
            json!([long_prefix]),
            "[0].prefix is longer than 8 characters",
        ),
        (
            json!([{"apiId": fx.api_id}]),
            "[0]: \"hash\" is a required property",
        ),
    ];
    for (body, message) in cases {
        let response = fx.post("/v1/migrations.createKeys", body).await;
        assert_error(&response, 400, message);
    }
    fx.shutdown().await;
}
