//! Several processes on one SQLite database: two `serve`s, and the CLI
//! beside them. A change made through one reaches the others within 100 ms
//! (notes/unkey-v1.md A.22), and a CLI write never turns a request into an
//! error.

use crate::common::process::{
    BOUND, Database, ServeProcess, create_api, get_json, keyward, post, seen_within, verify_code,
    workspace_of,
};
use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_through_one_server_reach_another_within_100_ms() {
    let database = Database::new();
    let one = ServeProcess::start(&database.url(), &[]);
    let other = ServeProcess::start(&database.url(), &[]);
    let http = reqwest::Client::new();
    let api_id = create_api(&http, &one.base_url).await;
    let create = |fields: Value| {
        let (http, base_url, api_id) = (http.clone(), one.base_url.clone(), api_id.clone());
        async move {
            let mut body = json!({"apiId": api_id});
            body.as_object_mut()
                .expect("object")
                .extend(fields.as_object().expect("object").clone());
            let (_, created) = post(&http, &base_url, "/v1/keys.createKey", &body, true)
                .await
                .expect("createKey");
            (
                created["keyId"].as_str().expect("keyId").to_string(),
                created["key"].as_str().expect("key").to_string(),
            )
        }
    };
    let (key_id, key) = create(json!({})).await;
    // The other server has the key cached from here on.
    assert_eq!(
        verify_code(&http, &other.base_url, &key).await,
        json!("VALID")
    );

    // A second key, from the same api, for deleteApi to take.
    let (_, limited) = create(json!({"remaining": 5})).await;
    assert_eq!(
        verify_code(&http, &other.base_url, &limited).await,
        json!("VALID")
    );
    // The other server caches the api as it makes a key in it.
    let (status, _) = post(
        &http,
        &other.base_url,
        "/v1/keys.createKey",
        &json!({"apiId": api_id}),
        true,
    )
    .await
    .expect("createKey");
    assert_eq!(status, 200);
    let mut slowest = Duration::ZERO;
    // (change, path, body, the key the other server verifies, what it answers)
    let changes: [(&str, &str, Value, &str, Value); 6] = [
        (
            "updateKey enabled: false",
            "/v1/keys.updateKey",
            json!({"keyId": key_id, "enabled": false}),
            &key,
            json!("DISABLED"),
        ),
        (
            "updateKey enabled: true",
            "/v1/keys.updateKey",
            json!({"keyId": key_id, "enabled": true}),
            &key,
            json!("VALID"),
        ),
        (
            "updateKey expires (in the past)",
            "/v1/keys.updateKey",
            json!({"keyId": key_id, "expires": 1_000}),
            &key,
            json!("NOT_FOUND"),
        ),
        (
            "updateKey expires: null",
            "/v1/keys.updateKey",
            json!({"keyId": key_id, "expires": null}),
            &key,
            json!("VALID"),
        ),
        (
            "deleteKey",
            "/v1/keys.deleteKey",
            json!({"keyId": key_id}),
            &key,
            json!("NOT_FOUND"),
        ),
        (
            "deleteApi",
            "/v1/apis.deleteApi",
            json!({"apiId": api_id}),
            &limited,
            json!("NOT_FOUND"),
        ),
    ];
    for (what, path, body, observed, expected) in changes {
        let (status, answer) = post(&http, &one.base_url, path, &body, true)
            .await
            .expect("change");
        assert_eq!(status, 200, "{what}: {answer}");
        let took = seen_within(what, expected, || {
            verify_code(&http, &other.base_url, observed)
        })
        .await;
        slowest = slowest.max(took);
    }
    // Its cached api is gone with the deletion: no key goes into it.
    let create_there = || async {
        let body = json!({"apiId": api_id});
        let answer = post(&http, &other.base_url, "/v1/keys.createKey", &body, true).await;
        json!(answer.map(|(status, _)| status).ok())
    };
    slowest = slowest.max(seen_within("deleteApi (a cached api)", json!(404), create_there).await);

    // The CLI disables the workspace: both servers refuse its keys.
    let api_id = create_api(&http, &one.base_url).await;
    let (_, created) = post(
        &http,
        &one.base_url,
        "/v1/keys.createKey",
        &json!({"apiId": api_id}),
        true,
    )
    .await
    .expect("createKey");
    let key = created["key"].as_str().expect("key").to_string();
    assert_eq!(
        verify_code(&http, &other.base_url, &key).await,
        json!("VALID")
    );
    let workspace = workspace_of(&http, &one.base_url, &api_id).await;
    let disabled = keyward(&database.url())
        .args(["workspace", "disable", &workspace])
        .output()
        .expect("keyward runs");
    assert!(disabled.status.success());
    for server in [&one, &other] {
        slowest = slowest.max(
            seen_within("workspace disable (CLI)", json!(403), || {
                verify_code(&http, &server.base_url, &key)
            })
            .await,
        );
    }
    println!("slowest propagation: {slowest:?}");
    assert!(slowest <= BOUND, "slowest propagation took {slowest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_access_key_and_its_tokens_stop_on_every_server_within_100_ms() {
    let database = Database::new();
    let one = ServeProcess::start(&database.url(), &[]);
    let other = ServeProcess::start(&database.url(), &[]);
    let http = reqwest::Client::new();
    let token = |base_url: String, id: String, secret: String| {
        let http = http.clone();
        async move {
            let answer: Value = http
                .post(format!("{base_url}/oauth2/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("JSON");
            answer["access_token"].as_str().expect("token").to_string()
        }
    };
    // The project, from a token's claims.
    let bootstrap_token = token(
        one.base_url.clone(),
        ACCESS_KEY_ID.into(),
        ACCESS_KEY_SECRET.into(),
    )
    .await;
    let project = {
        use base64::Engine;
        let payload = bootstrap_token.split('.').nth(1).expect("JWT");
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("base64"),
        )
        .expect("claims");
        claims["project_id"].as_str().expect("project").to_string()
    };
    let keys = format!("/v1/projects/{project}/accessKeys");
    let created: Value = http
        .post(format!("{}{keys}", one.base_url))
        .basic_auth(ACCESS_KEY_ID, Some(ACCESS_KEY_SECRET))
        .json(&json!({"displayName": "short-lived"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("JSON");
    let id = created["accessKey"]["accessKeyId"]
        .as_str()
        .expect("id")
        .to_string();
    let secret = created["secret"].as_str().expect("secret").to_string();
    // A token issued by one server works on the other.
    let bearer = token(one.base_url.clone(), id.clone(), secret.clone()).await;
    let status_on_other = |authorization: String| {
        let (http, url) = (http.clone(), format!("{}{keys}", other.base_url));
        async move {
            let status = http
                .get(url)
                .header("authorization", authorization)
                .send()
                .await
                .expect("list")
                .status()
                .as_u16();
            json!(status)
        }
    };
    let basic = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    assert_eq!(status_on_other(basic.clone()).await, json!(200));
    assert_eq!(
        status_on_other(format!("Bearer {bearer}")).await,
        json!(200),
        "a token of one server is good on the other"
    );

    let deleted = http
        .delete(format!("{}{keys}/{id}", one.base_url))
        .basic_auth(ACCESS_KEY_ID, Some(ACCESS_KEY_SECRET))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 200);
    let basic_took = seen_within("a deleted access key (Basic)", json!(401), || {
        status_on_other(basic.clone())
    })
    .await;
    let bearer_took = seen_within("a deleted access key's token", json!(401), || {
        status_on_other(format!("Bearer {bearer}"))
    })
    .await;
    assert!(basic_took.max(bearer_took) <= BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_writes_during_create_key_load_cause_no_errors() {
    let database = Database::new();
    let server = ServeProcess::start(&database.url(), &[]);
    let http = reqwest::Client::new();
    let api_id = create_api(&http, &server.base_url).await;
    let workspace = workspace_of(&http, &server.base_url, &api_id).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (http, base_url, api_id) = (http.clone(), server.base_url.clone(), api_id.clone());
            let stop = std::sync::Arc::clone(&stop);
            tokio::spawn(async move {
                let body = json!({"apiId": api_id});
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let (status, _) = post(&http, &base_url, "/v1/keys.createKey", &body, true)
                        .await
                        .expect("answered");
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    let url = database.url();
    let cli = tokio::task::spawn_blocking(move || {
        (0..20)
            .map(|i| {
                keyward(&url)
                    .args(["role", "create", "--workspace", &workspace])
                    .arg(format!("role-{i}"))
                    .args(["--permission", "documents.read"])
                    .output()
                    .expect("keyward runs")
            })
            .filter(|output| !output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stderr).into_owned())
            .collect::<Vec<_>>()
    })
    .await
    .expect("cli");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut statuses = Vec::new();
    for task in load {
        statuses.extend(task.await.expect("load"));
    }
    let failed = statuses.iter().filter(|s| **s != 200).count();
    println!(
        "20 `role create` runs during createKey load: {} creates, {failed} failed; CLI failures: {}",
        statuses.len(),
        cli.len()
    );
    assert!(cli.is_empty(), "{cli:?}");
    assert_eq!(failed, 0, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaining_is_exact_across_servers() {
    const REMAINING: i64 = 50;
    let database = Database::new();
    let servers = [
        ServeProcess::start(&database.url(), &[]),
        ServeProcess::start(&database.url(), &[]),
    ];
    let http = reqwest::Client::new();
    let api_id = create_api(&http, &servers[0].base_url).await;
    let (_, created) = post(
        &http,
        &servers[0].base_url,
        "/v1/keys.createKey",
        &json!({"apiId": api_id, "remaining": REMAINING}),
        true,
    )
    .await
    .expect("createKey");
    let key = created["key"].as_str().expect("key").to_string();
    // 2 servers × 16 clients × 5 verifies each: 160 for 50 uses.
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let (http, base_url, key) =
                (http.clone(), servers[i % 2].base_url.clone(), key.clone());
            tokio::spawn(async move {
                let mut valid = 0;
                for _ in 0..5 {
                    if verify_code(&http, &base_url, &key).await == json!("VALID") {
                        valid += 1;
                    }
                }
                valid
            })
        })
        .collect();
    let mut valid = 0;
    for client in clients {
        valid += client.await.expect("client");
    }
    let key_id = created["keyId"].as_str().expect("keyId");
    let read = get_json(
        &http,
        &servers[1].base_url,
        &format!("/v1/keys.getKey?keyId={key_id}"),
    )
    .await;
    println!("160 verifies over two servers of a key with {REMAINING} uses: {valid} valid");
    assert_eq!(valid, REMAINING, "exactly as many successes as uses");
    assert_eq!(read["remaining"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_counts_from_every_server_add_up() {
    let database = Database::new();
    let one = ServeProcess::start(&database.url(), &[]);
    let other = ServeProcess::start(&database.url(), &[]);
    let http = reqwest::Client::new();
    let api_id = create_api(&http, &one.base_url).await;
    let (_, created) = post(
        &http,
        &one.base_url,
        "/v1/keys.createKey",
        &json!({"apiId": api_id}),
        true,
    )
    .await
    .expect("createKey");
    let key = created["key"].as_str().expect("key").to_string();
    for (server, times) in [(&one, 7), (&other, 5)] {
        for _ in 0..times {
            assert_eq!(
                verify_code(&http, &server.base_url, &key).await,
                json!("VALID")
            );
        }
    }
    // Each server writes its own counts at shutdown.
    for server in [one, other] {
        server.terminate();
        let (status, _) = server
            .wait_exit(Duration::from_secs(15))
            .expect("the server exits");
        assert!(status.success());
    }
    let server = ServeProcess::start(&database.url(), &[]);
    let key_id = created["keyId"].as_str().expect("keyId");
    let counts = get_json(
        &http,
        &server.base_url,
        &format!("/v1/keys.getVerifications?keyId={key_id}"),
    )
    .await;
    assert_eq!(counts["verifications"][0]["success"], json!(12), "{counts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_key_limit_holds_across_servers() {
    let database = Database::new();
    let servers = [
        ServeProcess::start(&database.url(), &[]),
        ServeProcess::start(&database.url(), &[]),
    ];
    let http = reqwest::Client::new();
    let project = {
        let output = keyward(&database.url())
            .args(["project", "list", "--json"])
            .output()
            .expect("keyward runs");
        let projects: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        projects[0]["id"].as_str().expect("project").to_string()
    };
    // The project has its bootstrap key; 20 concurrent creates, half on
    // each server, may add 9 more.
    let creates: Vec<_> = (0..20)
        .map(|i| {
            let (http, url) = (
                http.clone(),
                format!(
                    "{}/v1/projects/{project}/accessKeys",
                    servers[i % 2].base_url
                ),
            );
            tokio::spawn(async move {
                http.post(url)
                    .basic_auth(ACCESS_KEY_ID, Some(ACCESS_KEY_SECRET))
                    .json(&json!({"displayName": format!("key {i}")}))
                    .send()
                    .await
                    .expect("create")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for create in creates {
        statuses.push(create.await.expect("create"));
    }
    let created = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 400).count();
    println!(
        "20 concurrent creates on two servers: {created} created, {refused} refused at the limit"
    );
    assert_eq!((created, refused), (9, 11), "{statuses:?}");
    let output = keyward(&database.url())
        .args(["access-key", "list", "--project", &project, "--json"])
        .output()
        .expect("keyward runs");
    let keys: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(keys.as_array().map(Vec::len), Some(10));
}
