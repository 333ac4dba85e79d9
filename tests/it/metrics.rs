//! `GET /metrics` on `--metrics-bind`: each family counts what happened, and
//! no label carries a key, a secret or an id.

use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Api, ROOT_KEY, Request, TestServer};
use crate::sinch::basic;
use serde_json::{Value, json};
use std::collections::BTreeMap;

type Scrape = BTreeMap<String, f64>;

fn value(scrape: &Scrape, series: &str) -> f64 {
    scrape.get(series).copied().unwrap_or(0.0)
}

/// How much `series` grew between two scrapes (for the process-wide
/// families, which other tests in this process also move).
fn grew(before: &Scrape, after: &Scrape, series: &str) -> f64 {
    value(after, series) - value(before, series)
}

async fn unkey(server: &TestServer, path: &str, body: Value, root_key: &str) -> Value {
    let response = server
        .send(
            Api::Unkey,
            Request::post(path)
                .header("authorization", format!("Bearer {root_key}"))
                .json(&body),
        )
        .await;
    response.body
}

async fn token(server: &TestServer, secret: &str) -> u16 {
    server
        .http
        .post(format!("{}/oauth2/token", server.base_url))
        .basic_auth(ACCESS_KEY_ID, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("answered")
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_family_counts_what_happened_and_no_label_names_a_key() {
    let owned = TestServer::start().await;
    let server = &owned;
    // Loaded, the index answers the unknown key below without a cache lookup.
    server.key_index_loaded().await;
    let before = server.scrape().await;

    let api_id = unkey(
        server,
        "/v1/apis.createApi",
        json!({"name": "metered"}),
        ROOT_KEY,
    )
    .await["apiId"]
        .as_str()
        .expect("api id")
        .to_string();
    let create = |body: Value| unkey(server, "/v1/keys.createKey", body, ROOT_KEY);
    let plain = create(json!({"apiId": api_id})).await;
    let once = create(json!({"apiId": api_id, "remaining": 1})).await;
    let limited = create(json!({"apiId": api_id,
        "ratelimit": {"type": "fast", "limit": 1, "refillRate": 1, "refillInterval": 60000}}))
    .await;
    let verify = |key: &Value| {
        let key = key["key"].as_str().unwrap_or_default().to_string();
        async move { unkey(server, "/v1/keys.verifyKey", json!({"key": key}), "").await }
    };
    // The unknown key first: its answer waits until the change log has
    // brought back every change committed before it, this server's own
    // three creations included. Arriving later, they would drop those keys
    // from the cache, and a verify would miss again.
    assert_eq!(
        verify(&json!({"key": "nope_123"})).await["code"],
        "NOT_FOUND"
    );
    assert_eq!(verify(&plain).await["code"], "VALID");
    assert_eq!(verify(&plain).await["code"], "VALID");
    assert_eq!(verify(&once).await["code"], "VALID");
    assert_eq!(verify(&once).await["code"], "USAGE_EXCEEDED");
    assert_eq!(verify(&limited).await["code"], "VALID");
    assert_eq!(verify(&limited).await["code"], "RATE_LIMITED");
    // A refused mutation is not a change, but it is counted.
    let refused = unkey(
        server,
        "/v1/keys.createKey",
        json!({"apiId": api_id}),
        "wrong",
    )
    .await;
    assert_eq!(refused["error"]["code"], "UNAUTHORIZED");
    let limit =
        json!({"namespace": "email", "identifier": "user_1", "limit": 1, "duration": 60000});
    for success in [true, false] {
        let decision = unkey(server, "/v1/ratelimits.limit", limit.clone(), ROOT_KEY).await;
        assert_eq!(decision["success"], success);
    }
    assert_eq!(token(server, ACCESS_KEY_SECRET).await, 200);
    // The test clock stands still: the same second's token again.
    assert_eq!(token(server, ACCESS_KEY_SECRET).await, 200);
    assert_eq!(token(server, "wrong-secret").await, 401);
    // A display name taken: the database refuses the insert (unique).
    let project = &server.bootstrap().sinch.project_id;
    for expected in [200, 409] {
        let created = server
            .send(
                Api::Sinch,
                Request::post(&format!("/v1/projects/{project}/accessKeys"))
                    .header("authorization", basic(ACCESS_KEY_ID, ACCESS_KEY_SECRET))
                    .json(&json!({"displayName": "twice"})),
            )
            .await;
        assert_eq!(created.status, expected, "{}", created.body);
    }
    let unmatched = server
        .http
        .get(format!("{}/no/such/route", server.base_url))
        .send()
        .await
        .expect("answered");
    assert_eq!(unmatched.status(), 404);
    server.state().unkey.flush().await.expect("counts flushed");

    let after = server.scrape().await;
    let at = |series: &str| value(&after, series);
    // Requests, by operation id and status; a histogram for each.
    let verifies = r#"keyward_http_requests_total{operation="keys_verify_key",status="200"}"#;
    assert_eq!(at(verifies), 7.0);
    assert_eq!(
        at(
            r#"keyward_http_request_duration_seconds_count{operation="keys_verify_key",status="200"}"#
        ),
        7.0
    );
    let all_buckets = r#"keyward_http_request_duration_seconds_bucket{le="+Inf",operation="keys_verify_key",status="200"}"#;
    assert_eq!(at(all_buckets), 7.0);
    assert_eq!(
        at(r#"keyward_http_requests_total{operation="keys_create_key",status="401"}"#),
        1.0,
        "a 401 on a mutating route"
    );
    assert_eq!(
        at(r#"keyward_http_requests_total{operation="keys_create_key",status="200"}"#),
        3.0
    );
    assert_eq!(
        at(r#"keyward_http_requests_total{operation="unmatched",status="404"}"#),
        1.0
    );
    // Verifications by code.
    for (code, count) in [
        ("VALID", 4.0),
        ("NOT_FOUND", 1.0),
        ("USAGE_EXCEEDED", 1.0),
        ("RATE_LIMITED", 1.0),
        ("DISABLED", 0.0),
    ] {
        let series = format!(r#"keyward_verifications_total{{code="{code}"}}"#);
        assert_eq!(at(&series), count, "{series}");
    }
    // Rate-limit decisions: a key's own bucket, and ratelimits.limit.
    for (limiter, result, count) in [
        ("key", "allowed", 1.0),
        ("key", "denied", 1.0),
        ("namespace", "allowed", 1.0),
        ("namespace", "denied", 1.0),
    ] {
        let series = format!(
            r#"keyward_ratelimit_decisions_total{{limiter="{limiter}",result="{result}"}}"#
        );
        assert_eq!(at(&series), count, "{series}");
    }
    // Caches: every verify after a key's first is a hit; the unknown key
    // is refused by the key index, before the cache.
    assert_eq!(
        at(r#"keyward_cache_lookups_total{cache="keys",result="miss"}"#),
        3.0
    );
    assert_eq!(at("keyward_key_index_complete"), 1.0);
    assert_eq!(
        at(r#"keyward_cache_lookups_total{cache="keys",result="hit"}"#),
        3.0
    );
    assert!(at(r#"keyward_cache_lookups_total{cache="root_keys",result="hit"}"#) >= 5.0);
    // The bootstrap access key: looked up once, then from the cache.
    assert_eq!(
        at(r#"keyward_cache_lookups_total{cache="access_keys",result="miss"}"#),
        1.0
    );
    assert!(at(r#"keyward_cache_lookups_total{cache="access_keys",result="hit"}"#) >= 2.0);
    // Tokens by result.
    for (result, count) in [("issued", 1.0), ("reused", 1.0), ("invalid_client", 1.0)] {
        let series = format!(r#"keyward_tokens_total{{result="{result}"}}"#);
        assert_eq!(at(&series), count, "{series}");
    }
    // The counts flush: its duration, and the rows it wrote (3 keys, 1 day).
    assert_eq!(at("keyward_counts_flush_duration_seconds_count"), 1.0);
    assert_eq!(at("keyward_counts_flushed_rows_total"), 3.0);
    // The spend queue: two spends of the usage-limited key, in groups.
    assert!(grew(&before, &after, "keyward_spend_group_size_sum") >= 2.0);
    assert!(grew(&before, &after, "keyward_spend_group_size_count") >= 1.0);
    assert!(after.contains_key("keyward_spend_queue_depth"));
    // The key insert queue: the three keys above, in groups.
    assert!(grew(&before, &after, "keyward_key_insert_group_size_sum") >= 3.0);
    assert!(grew(&before, &after, "keyward_key_insert_group_size_count") >= 1.0);
    // Database errors by kind: the taken display name.
    let unique = r#"keyward_database_errors_total{kind="unique_violation"}"#;
    assert!(grew(&before, &after, unique) >= 1.0, "{unique}");
    // The test client keeps its connection open.
    assert!(at("keyward_http_connections_open") >= 1.0);
    assert!(after.contains_key("keyward_http_connections_refused_total"));

    // No label value is a key, a secret or an id.
    let text: String = after.keys().cloned().collect::<Vec<_>>().join("\n");
    for secret in [
        ROOT_KEY,
        ACCESS_KEY_ID,
        ACCESS_KEY_SECRET,
        api_id.as_str(),
        project,
    ]
    .into_iter()
    .chain([&plain, &once, &limited].iter().flat_map(|k| {
        [
            k["key"].as_str().unwrap_or("?"),
            k["keyId"].as_str().unwrap_or("?"),
        ]
    })) {
        assert!(!text.contains(secret), "a label holds {secret}");
    }
    for series in after.keys() {
        let Some((_, labels)) = series.split_once('{') else {
            continue;
        };
        for label in labels.trim_end_matches('}').split(',') {
            let name = label.split('=').next().unwrap_or_default();
            assert!(
                [
                    "operation",
                    "status",
                    "le",
                    "code",
                    "limiter",
                    "result",
                    "cache",
                    "kind"
                ]
                .contains(&name),
                "{series}: unexpected label {name}"
            );
        }
    }

    let liveness = server.send(Api::Unkey, Request::get("/v1/liveness")).await;
    assert_eq!(liveness.body["services"]["metrics"], "prometheus");
    owned.shutdown().await;
}
