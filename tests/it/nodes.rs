//! Several nodes on one PostgreSQL database (run by tests/postgres.rs only):
//! the limits that must agree across nodes do.

use crate::common::process::{Database, ServeProcess, create_api, post, verify_code};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_limits_are_exact_across_nodes() {
    let database = Database::new();
    let nodes = [
        ServeProcess::start(&database.url(), &[]),
        ServeProcess::start(&database.url(), &[]),
    ];
    let http = reqwest::Client::new();

    // ratelimits.limit, not async: 10 per window, whichever node answers.
    let limit =
        json!({"namespace": "nodes", "identifier": "user_1", "limit": 10, "duration": 60_000});
    let requests: Vec<_> = (0..30)
        .map(|i| {
            let (http, base_url, body) =
                (http.clone(), nodes[i % 2].base_url.clone(), limit.clone());
            tokio::spawn(async move {
                let (status, answer) = post(&http, &base_url, "/v1/ratelimits.limit", &body, true)
                    .await
                    .expect("answered");
                assert_eq!(status, 200, "{answer}");
                answer["success"] == json!(true)
            })
        })
        .collect();
    let mut allowed = 0;
    for request in requests {
        allowed += usize::from(request.await.expect("request"));
    }
    println!(
        "ratelimits.limit (async: false), limit 10, 30 requests over two nodes: {allowed} allowed"
    );
    assert_eq!(allowed, 10);

    // A key's consistent bucket: 5 tokens, whichever node verifies.
    let api_id = create_api(&http, &nodes[0].base_url).await;
    let (_, created) = post(
        &http,
        &nodes[0].base_url,
        "/v1/keys.createKey",
        &json!({"apiId": api_id, "ratelimit": {"type": "consistent", "limit": 5, "refillRate": 1, "refillInterval": 60_000}}),
        true,
    )
    .await
    .expect("createKey");
    let key = created["key"].as_str().expect("key").to_string();
    let verifies: Vec<_> = (0..20)
        .map(|i| {
            let (http, base_url, key) = (http.clone(), nodes[i % 2].base_url.clone(), key.clone());
            tokio::spawn(async move { verify_code(&http, &base_url, &key).await })
        })
        .collect();
    let mut codes = Vec::new();
    for verify in verifies {
        codes.push(verify.await.expect("verify"));
    }
    let valid = codes.iter().filter(|c| **c == json!("VALID")).count();
    let limited = codes
        .iter()
        .filter(|c| **c == json!("RATE_LIMITED"))
        .count();
    println!(
        "a consistent key limit of 5, 20 verifies over two nodes: {valid} valid, {limited} rate limited"
    );
    assert_eq!((valid, limited), (5, 15), "{codes:?}");
}
