use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use keyward::domain::clock::Clock;
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn counts_outcomes_per_utc_day() {
    let fx = Fixture::new().await;
    let day_one = fx.server.clock.now_ms();
    let (key_id, key) = fx
        .create_key(json!({"ownerId": "user_1", "remaining": 3,
                           "ratelimit": {"type": "fast", "limit": 2, "refillRate": 2, "refillInterval": 60000}}))
        .await;
    let (_, other_key) = fx.create_key(json!({"ownerId": "user_1"})).await;
    for _ in 0..3 {
        fx.verify(&key, json!({})).await; // 2 successes, then rate limited
    }
    fx.server.clock.advance_ms(DAY_MS);
    for _ in 0..2 {
        fx.verify(&key, json!({})).await; // 1 success, then usage exceeded
    }
    fx.verify(&other_key, json!({})).await;

    let response = fx
        .get(&format!("/v1/keys.getVerifications?keyId={key_id}"))
        .await;
    assert_response_snapshot!("unkey_keys_get_verifications_200", response);
    assert_eq!(
        response.body["verifications"],
        json!([
            {"time": day_one, "success": 2, "rateLimited": 1, "usageExceeded": 0},
            {"time": day_one + DAY_MS, "success": 1, "rateLimited": 0, "usageExceeded": 1},
        ])
    );
    let by_owner = fx.get("/v1/keys.getVerifications?ownerId=user_1").await;
    assert_eq!(
        by_owner.body["verifications"][1]["success"],
        json!(2),
        "summed over the owner's keys"
    );
    let later = fx
        .get(&format!(
            "/v1/keys.getVerifications?keyId={key_id}&start={}",
            day_one + 1
        ))
        .await;
    assert_eq!(
        later.body["verifications"].as_array().map(Vec::len),
        Some(1),
        "start is inclusive, by day"
    );
    // Counts flushed on top of ones already written add up.
    fx.verify(&key, json!({})).await;
    let again = fx
        .get(&format!("/v1/keys.getVerifications?keyId={key_id}"))
        .await;
    assert_eq!(
        again.body["verifications"][1],
        json!({"time": day_one + DAY_MS, "success": 1, "rateLimited": 1, "usageExceeded": 1}),
        "the bucket is empty now"
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (key_id, _) = fx.create_key(json!({"ownerId": "user_1"})).await;
    let neither = fx.get("/v1/keys.getVerifications").await;
    assert_error(&neither, 400, "keyId or ownerId");
    assert_response_snapshot!("unkey_keys_get_verifications_400", neither);
    let path = format!("/v1/keys.getVerifications?keyId={key_id}");
    assert_response_snapshot!(
        "unkey_keys_get_verifications_401",
        fx.call(&path, None, None).await
    );
    let scoped = fx.root_key(&["api.api_other.read_key"]).await;
    assert_response_snapshot!(
        "unkey_keys_get_verifications_403",
        fx.call(&path, None, Some(&scoped)).await
    );
    let other = fx.other_workspace_root_key().await;
    assert_response_snapshot!(
        "unkey_keys_get_verifications_404",
        fx.call(&path, None, Some(&other)).await
    );
    let other_owner = fx
        .call(
            "/v1/keys.getVerifications?ownerId=user_1",
            None,
            Some(&other),
        )
        .await;
    assert_eq!(
        other_owner.status, 404,
        "owners are scoped to the caller's workspace"
    );
    fx.shutdown().await;
}
