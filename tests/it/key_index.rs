//! The key index (issue 13): once loaded, a verify of a key that does not
//! exist reads no key from storage, and a key created anywhere verifies
//! everywhere as soon as its createKey answered.

use crate::common::TestServer;
use crate::common::process::{ServeProcess, create_api, post, verify_code};
use serde_json::json;

const KEY_MISSES: &str = r#"keyward_cache_lookups_total{cache="keys",result="miss"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_refused_from_memory_and_new_keys_verify_everywhere() {
    let server = TestServer::start().await;
    let (http, here) = (&server.http, server.base_url.as_str());
    let api_id = create_api(http, here).await;
    let create = |base_url: String| {
        let api_id = api_id.clone();
        async move {
            let body = json!({"apiId": api_id});
            let (status, created) = post(http, &base_url, "/v1/keys.createKey", &body, true)
                .await
                .expect("createKey");
            assert_eq!(status, 200, "{created}");
            (
                created["keyId"].as_str().expect("keyId").to_string(),
                created["key"].as_str().expect("key").to_string(),
            )
        }
    };
    server.key_index_loaded().await;

    // Guesses of a valid shape: refused without a cache lookup, so without
    // a read of storage.
    let misses = server.scrape().await.get(KEY_MISSES).copied();
    for guess in ["guess_3xQ7fJr1VbY2aKm9", "guess_9pLw4HnCzT8dRe6s", "x"] {
        assert_eq!(verify_code(http, here, guess).await, json!("NOT_FOUND"));
    }
    assert_eq!(server.scrape().await.get(KEY_MISSES).copied(), misses);

    // Created here: verifies at once.
    let (key_id, key) = create(here.to_string()).await;
    assert_eq!(verify_code(http, here, &key).await, json!("VALID"));

    // Created through another process on the same database: this one's
    // index does not know it yet, so the verify waits for the change feed,
    // which brings it.
    let other = ServeProcess::start(server.database_url(), &[]);
    for _ in 0..5 {
        let (_, elsewhere) = create(other.base_url.clone()).await;
        assert_eq!(verify_code(http, here, &elsewhere).await, json!("VALID"));
    }

    // Deleted: its fingerprint stays, and storage says it is gone.
    let (status, _) = post(
        http,
        here,
        "/v1/keys.deleteKey",
        &json!({"keyId": key_id}),
        true,
    )
    .await
    .expect("deleteKey");
    assert_eq!(status, 200);
    assert_eq!(verify_code(http, here, &key).await, json!("NOT_FOUND"));
    let (indexed, complete) = server.state().unkey.key_index_size();
    assert!(complete);
    assert!(indexed >= 2, "{indexed} keys indexed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_loads_the_keys_already_there() {
    let first = TestServer::start().await;
    let api_id = create_api(&first.http, &first.base_url).await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        let body = json!({"apiId": api_id});
        let (_, created) = post(
            &first.http,
            &first.base_url,
            "/v1/keys.createKey",
            &body,
            true,
        )
        .await
        .expect("createKey");
        keys.push(created["key"].as_str().expect("key").to_string());
    }
    // A second server on the same database loads them into its index and
    // its key cache: each verifies from memory.
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let second = ServeProcess::start(first.database_url(), &["--metrics-bind", &metrics_bind]);
    let http = reqwest::Client::new();
    let scrape = || async {
        let text = http
            .get(format!("http://{metrics_bind}/metrics"))
            .send()
            .await
            .expect("scraped")
            .text()
            .await
            .expect("text");
        let value = |series: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (value("keyward_key_index_complete"), value(KEY_MISSES))
    };
    let started = std::time::Instant::now();
    while scrape().await.0 != 1.0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for key in &keys {
        assert_eq!(
            verify_code(&http, &second.base_url, key).await,
            json!("VALID")
        );
    }
    assert_eq!(
        scrape().await.1,
        0.0,
        "every key was cached before its verify"
    );
}
