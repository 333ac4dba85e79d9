use super::Fixture;
use crate::assert_response_snapshot;
use crate::common::{Api, Request};
use keyward::domain::clock::Clock;
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn a_valid_key_shows_what_is_set_on_it() {
    let fx = Fixture::new().await;
    fx.role("editor", &["documents.read", "documents.write"])
        .await;
    let (key_id, key) = fx
        .create_key(
            json!({"name": "ci", "ownerId": "user_1", "meta": {"plan": "pro"}, "roles": ["editor"],
                           "environment": "test", "remaining": 5}),
        )
        .await;
    let response = fx.verify(&key, json!({"apiId": fx.api_id})).await;
    assert_response_snapshot!("unkey_keys_verify_key_200", response);
    assert_eq!(response.body["keyId"], json!(key_id));
    assert_eq!(response.body["valid"], json!(true));
    assert_eq!(response.body["remaining"], json!(4));
    // The 2024-05-10 revision's VALID, and the overlay's requestId, which is
    // the response header's id.
    assert_eq!(response.body["code"], json!("VALID"));
    assert_eq!(
        response.body["requestId"].as_str(),
        response.header("unkey-request-id")
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn each_check_fails_with_its_code_in_order() {
    let fx = Fixture::new().await;
    let unknown = fx.verify("sk_doesnotexist", json!({})).await;
    assert_eq!(
        (unknown.body["valid"].clone(), unknown.body["code"].clone()),
        (json!(false), json!("NOT_FOUND"))
    );
    assert_response_snapshot!("unkey_keys_verify_key_200_not_found", unknown);

    let (disabled_id, disabled) = fx.create_key(json!({"enabled": false})).await;
    let response = fx.verify(&disabled, json!({})).await;
    assert_eq!(response.body["code"], json!("DISABLED"));
    assert_eq!(response.body["keyId"], json!(disabled_id));

    let (_, key) = fx.create_key(json!({})).await;
    let response = fx.verify(&key, json!({"apiId": "api_other"})).await;
    assert_eq!(response.body["code"], json!("FORBIDDEN"));

    let response = fx
        .verify(&key, json!({"authorization": {"permissions": "admin"}}))
        .await;
    assert_eq!(response.body["code"], json!("INSUFFICIENT_PERMISSIONS"));

    // Disabled beats a wrong api: the first failing check wins.
    let response = fx.verify(&disabled, json!({"apiId": "api_other"})).await;
    assert_eq!(response.body["code"], json!("DISABLED"));
    fx.shutdown().await;
}

#[tokio::test]
async fn an_expired_key_is_not_found() {
    let fx = Fixture::new().await;
    let expires = fx.server.clock.now_ms() + 60_000;
    let (_, key) = fx.create_key(json!({"expires": expires})).await;
    assert_eq!(fx.verify(&key, json!({})).await.body["valid"], json!(true));
    fx.server.clock.advance_ms(60_000);
    let response = fx.verify(&key, json!({})).await;
    assert_eq!(response.body["code"], json!("NOT_FOUND"));
    assert!(
        response.body.get("keyId").is_none(),
        "an expired key is simply gone"
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn permission_queries_use_the_permissions_of_the_keys_roles() {
    let fx = Fixture::new().await;
    fx.role("dns-editor", &["dns.record.read", "dns.record.update"])
        .await;
    let (_, key) = fx.create_key(json!({"roles": ["dns-editor"]})).await;
    let cases = [
        (json!("dns.record.read"), true),
        (json!("admin"), false),
        (
            json!({"and": ["dns.record.read", "dns.record.update"]}),
            true,
        ),
        (
            json!({"and": ["dns.record.read", "dns.record.delete"]}),
            false,
        ),
        (
            json!({"or": [{"and": ["dns.record.read", "dns.record.delete"]}, "dns.record.update"]}),
            true,
        ),
        (json!({"or": ["admin", "root"]}), false),
    ];
    for (query, valid) in cases {
        let response = fx
            .verify(&key, json!({"authorization": {"permissions": query}}))
            .await;
        assert_eq!(response.body["valid"], json!(valid), "{query}");
        if !valid {
            assert_eq!(response.body["code"], json!("INSUFFICIENT_PERMISSIONS"));
        }
    }
    fx.shutdown().await;
}

#[tokio::test]
async fn an_invalid_query_is_400_once_the_key_gets_that_far() {
    let fx = Fixture::new().await;
    let (_, key) = fx.create_key(json!({})).await;
    let body = |key: &str| json!({"key": key, "authorization": {"permissions": {"and": []}}});
    let response = fx.call("/v1/keys.verifyKey", Some(body(&key)), None).await;
    assert_eq!(response.status, 400);
    assert!(
        response.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("authorization.permissions")
    );
    assert_response_snapshot!("unkey_keys_verify_key_400", response);
    let unknown = fx
        .call("/v1/keys.verifyKey", Some(body("sk_unknown")), None)
        .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (200, json!("NOT_FOUND"))
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn remaining_is_exact_under_concurrency() {
    // Interleaved verifies of three keys, so that commit groups mix keys and
    // hold several spends of each.
    let fx = Fixture::new().await;
    let mut keys = Vec::new();
    for remaining in [10, 3, 1] {
        keys.push((
            remaining,
            fx.create_key(json!({"remaining": remaining})).await,
        ));
    }
    let verifications =
        futures::future::join_all((0..96).map(|i| fx.verify(&keys[i % keys.len()].1.1, json!({}))))
            .await;
    for (index, (remaining, (key_id, _))) in keys.iter().enumerate() {
        let mine: Vec<_> = verifications
            .iter()
            .skip(index)
            .step_by(keys.len())
            .collect();
        let exceeded = mine
            .iter()
            .filter(|r| r.body["code"] == json!("USAGE_EXCEEDED"))
            .count();
        let mut left: Vec<i64> = mine
            .iter()
            .filter(|r| r.body["valid"] == json!(true))
            .map(|r| r.body["remaining"].as_i64().unwrap())
            .collect();
        left.sort_unstable();
        assert_eq!(
            left,
            (0..*remaining).collect::<Vec<_>>(),
            "{key_id}: exactly {remaining} successes, each saw its own decrement"
        );
        assert_eq!(
            exceeded,
            32 - *remaining as usize,
            "{key_id}: the rest exceeded"
        );
        let stored = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
        assert_eq!(stored.body["remaining"], json!(0), "{key_id}");
    }
    fx.shutdown().await;
}

#[tokio::test]
async fn usage_exceeded_reports_zero_remaining() {
    let fx = Fixture::new().await;
    let (_, key) = fx.create_key(json!({"remaining": 1})).await;
    fx.verify(&key, json!({})).await;
    let response = fx.verify(&key, json!({})).await;
    assert_response_snapshot!("unkey_keys_verify_key_200_usage_exceeded", response);
    assert_eq!(response.body["remaining"], json!(0));
    fx.shutdown().await;
}

#[tokio::test]
async fn daily_and_monthly_refills_happen_lazily_at_utc_boundaries() {
    let fx = Fixture::new().await;
    // The test clock starts at 2026-01-01T00:00:00Z; move to 10:00.
    fx.server.clock.advance_ms(10 * 3_600_000);
    let (daily_id, daily) = fx
        .create_key(json!({"remaining": 2, "refill": {"interval": "daily", "amount": 5}}))
        .await;
    let (_, monthly) = fx
        .create_key(json!({"remaining": 1, "refill": {"interval": "monthly", "amount": 3}}))
        .await;
    for key in [&daily, &daily, &monthly] {
        assert_eq!(fx.verify(key, json!({})).await.body["valid"], json!(true));
    }
    assert_eq!(
        fx.verify(&daily, json!({})).await.body["code"],
        json!("USAGE_EXCEEDED")
    );
    assert_eq!(
        fx.verify(&monthly, json!({})).await.body["code"],
        json!("USAGE_EXCEEDED")
    );

    // Just before midnight: nothing yet.
    fx.server.clock.advance_ms(14 * 3_600_000 - 1);
    assert_eq!(
        fx.verify(&daily, json!({})).await.body["code"],
        json!("USAGE_EXCEEDED")
    );
    // Midnight UTC: the daily key is back at its amount; the monthly is not.
    fx.server.clock.advance_ms(1);
    let refilled = fx.verify(&daily, json!({})).await;
    assert_eq!(
        (
            refilled.body["valid"].clone(),
            refilled.body["remaining"].clone()
        ),
        (json!(true), json!(4))
    );
    assert_eq!(
        fx.verify(&monthly, json!({})).await.body["code"],
        json!("USAGE_EXCEEDED")
    );
    let read = fx.get(&format!("/v1/keys.getKey?keyId={daily_id}")).await;
    assert_eq!(
        read.body["remaining"],
        json!(4),
        "one refill a day, not one per read"
    );

    // 2026-02-01T00:00:00Z: the monthly key refills.
    fx.server.clock.set_ms(1_769_904_000_000);
    let monthly_after = fx.verify(&monthly, json!({})).await;
    assert_eq!(
        (
            monthly_after.body["valid"].clone(),
            monthly_after.body["remaining"].clone()
        ),
        (json!(true), json!(2))
    );
    // Reading applies a due refill too.
    fx.server.clock.advance_ms(DAY_MS);
    let read = fx.get(&format!("/v1/keys.getKey?keyId={daily_id}")).await;
    assert_eq!(read.body["remaining"], json!(5));
    fx.shutdown().await;
}

#[tokio::test]
async fn the_token_bucket_limits_and_refills_without_spending_remaining() {
    let fx = Fixture::new().await;
    let (key_id, key) = fx
        .create_key(json!({"remaining": 100,
                           "ratelimit": {"type": "fast", "limit": 3, "refillRate": 2, "refillInterval": 1000}}))
        .await;
    let start = fx.server.clock.now_ms();
    for expected_tokens in [2, 1, 0] {
        let response = fx.verify(&key, json!({})).await;
        assert_eq!(
            response.body["ratelimit"],
            json!({"limit": 3, "remaining": expected_tokens, "reset": start + 1000})
        );
    }
    let limited = fx.verify(&key, json!({})).await;
    assert_eq!(limited.body["code"], json!("RATE_LIMITED"));
    assert_response_snapshot!("unkey_keys_verify_key_200_rate_limited", limited);
    let stored = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
    assert_eq!(
        stored.body["remaining"],
        json!(97),
        "a rate-limited call spends no remaining"
    );

    fx.server.clock.advance_ms(1000);
    let refilled = fx.verify(&key, json!({})).await;
    assert_eq!(refilled.body["valid"], json!(true));
    assert_eq!(
        refilled.body["ratelimit"]["remaining"],
        json!(1),
        "refillRate tokens came back"
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn a_cost_takes_that_many_tokens_and_one_remaining() {
    // The 2024-05-10 revision's ratelimit.cost: tokens, not uses.
    let fx = Fixture::new().await;
    let (key_id, key) = fx
        .create_key(json!({"remaining": 100,
                           "ratelimit": {"type": "fast", "limit": 10, "refillRate": 10, "refillInterval": 1000}}))
        .await;
    let cost = |n: i64| json!({"ratelimit": {"cost": n}});
    let heavy = fx.verify(&key, cost(7)).await;
    assert_eq!(heavy.body["valid"], json!(true));
    assert_eq!(heavy.body["ratelimit"]["remaining"], json!(3));
    assert_eq!(
        heavy.body["remaining"],
        json!(99),
        "one use, whatever the cost"
    );

    let too_heavy = fx.verify(&key, cost(4)).await;
    assert_eq!(too_heavy.body["code"], json!("RATE_LIMITED"));
    assert_eq!(
        too_heavy.body["ratelimit"]["remaining"],
        json!(3),
        "a denial takes nothing"
    );
    let default_cost = fx.verify(&key, json!({})).await;
    assert_eq!(
        default_cost.body["ratelimit"]["remaining"],
        json!(2),
        "the default cost is 1"
    );

    fx.server.clock.advance_ms(60_000);
    let above_capacity = fx.verify(&key, cost(11)).await;
    assert_eq!(
        above_capacity.body["code"],
        json!("RATE_LIMITED"),
        "a cost above the bucket's capacity is never allowed"
    );
    let stored = fx.get(&format!("/v1/keys.getKey?keyId={key_id}")).await;
    assert_eq!(stored.body["remaining"], json!(98));
    fx.shutdown().await;
}

#[tokio::test]
async fn a_disabled_workspace_is_403() {
    let fx = Fixture::new().await;
    let (_, key) = fx.create_key(json!({})).await;
    let response = fx.disable_workspace("/v1/keys.verifyKey", &key).await;
    assert_eq!(
        response.body["error"]["message"],
        json!("workspace is disabled")
    );
    assert_response_snapshot!("unkey_keys_verify_key_403", response);
    let root = fx.get("/v1/apis.getApi?apiId=x").await;
    assert_eq!(root.status, 403, "root keys of the workspace stop at once");
    fx.shutdown().await;
}

#[tokio::test]
async fn verification_needs_no_root_key_and_ignores_one() {
    let fx = Fixture::new().await;
    let (_, key) = fx.create_key(json!({})).await;
    let request = Request::post("/v1/keys.verifyKey")
        .json(&json!({"key": key}))
        .header("authorization", "Bearer junk");
    let response = fx.server.send(Api::Unkey, request).await;
    assert_eq!(response.body["valid"], json!(true));
    fx.shutdown().await;
}
