use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use keyward::domain::clock::Clock;
use serde_json::json;

#[tokio::test]
async fn a_fixed_window_aligned_to_the_epoch() {
    let fx = Fixture::new().await;
    let now = fx.server.clock.now_ms();
    let window_end = (now / 60_000 + 1) * 60_000;
    let limit = |cost: i64, asynchronous: bool| {
        json!({"namespace": "email", "identifier": "user_1", "limit": 10, "duration": 60000, "cost": cost,
               "async": asynchronous})
    };
    let first = fx.post("/v1/ratelimits.limit", limit(8, false)).await;
    assert_response_snapshot!("unkey_ratelimits_limit_200", first);
    assert_eq!(
        first.body,
        json!({"success": true, "limit": 10, "remaining": 2, "reset": window_end})
    );
    let denied = fx.post("/v1/ratelimits.limit", limit(5, false)).await;
    assert_eq!(
        denied.body,
        json!({"success": false, "limit": 10, "remaining": 2, "reset": window_end})
    );
    let fits = fx.post("/v1/ratelimits.limit", limit(2, false)).await;
    assert_eq!(
        (fits.body["success"].clone(), fits.body["remaining"].clone()),
        (json!(true), json!(0))
    );
    // `async` requests count apart, as Unkey's did: on several nodes they
    // may be decided by each node alone.
    let local = fx.post("/v1/ratelimits.limit", limit(10, true)).await;
    assert_eq!(local.body["success"], json!(true));
    fx.server.clock.set_ms(window_end);
    let next_window = fx.post("/v1/ratelimits.limit", limit(1, false)).await;
    assert_eq!(
        (
            next_window.body["success"].clone(),
            next_window.body["remaining"].clone()
        ),
        (json!(true), json!(9))
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn namespaces_are_created_only_by_keys_that_may() {
    let fx = Fixture::new().await;
    let body = json!({"namespace": "sms", "identifier": "u", "limit": 1, "duration": 1000});
    let limiter = fx.root_key(&["ratelimit.*.limit"]).await;
    let missing = fx
        .call("/v1/ratelimits.limit", Some(body.clone()), Some(&limiter))
        .await;
    assert_error(&missing, 404, "namespace sms not found");
    assert_response_snapshot!("unkey_ratelimits_limit_404", missing);

    let creator = fx.root_key(&["ratelimit.*.create_namespace"]).await;
    let forbidden = fx
        .call("/v1/ratelimits.limit", Some(body.clone()), Some(&creator))
        .await;
    assert_error(&forbidden, 403, "ratelimit.*.limit");
    assert_response_snapshot!("unkey_ratelimits_limit_403", forbidden);
    // The namespace exists now: a key that may only limit can use it.
    assert_eq!(
        fx.call("/v1/ratelimits.limit", Some(body), Some(&limiter))
            .await
            .body["success"],
        json!(true)
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let short = fx
        .post(
            "/v1/ratelimits.limit",
            json!({"identifier": "u", "limit": 1, "duration": 999}),
        )
        .await;
    assert_error(&short, 400, "duration");
    assert_response_snapshot!("unkey_ratelimits_limit_400", short);
    let zero_cost = fx
        .post(
            "/v1/ratelimits.limit",
            json!({"identifier": "u", "limit": 1, "duration": 1000, "cost": 0}),
        )
        .await;
    assert_error(&zero_cost, 400, "cost");
    let no_limit = fx
        .post(
            "/v1/ratelimits.limit",
            json!({"identifier": "u", "limit": 0, "duration": 1000}),
        )
        .await;
    assert_error(&no_limit, 400, "limit");
    let body = json!({"identifier": "u", "limit": 1, "duration": 1000});
    assert_response_snapshot!(
        "unkey_ratelimits_limit_401",
        fx.call("/v1/ratelimits.limit", Some(body), None).await
    );
    fx.shutdown().await;
}
