//! The fault suite: what a crash, a hostile client, a signal or another
//! writer does to keyward. Each test is bounded in time. The figures they
//! print are the ones the closing notes report:
//! `cargo test --test it faults -- --nocapture`.

use crate::common::process::{Database, ServeProcess, create_api, get_json, post};
use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Api, Request};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_verify_load_never_overspends() {
    const REMAINING: i64 = 300;
    const CLIENTS: usize = 16;
    for run in 0..3 {
        let database = Database::new();
        let server = ServeProcess::start(&database.url(), &[]);
        let http = reqwest::Client::new();
        let api_id = create_api(&http, &server.base_url).await;
        let (_, created) = post(
            &http,
            &server.base_url,
            "/v1/keys.createKey",
            &json!({"apiId": api_id, "remaining": REMAINING}),
            true,
        )
        .await
        .expect("createKey");
        let key_id = created["keyId"].as_str().expect("keyId").to_string();
        let key = created["key"].as_str().expect("key").to_string();

        let acknowledged = Arc::new(AtomicI64::new(0));
        let in_flight_at_kill = Arc::new(AtomicI64::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (http, base_url, key) = (http.clone(), server.base_url.clone(), key.clone());
                let (acknowledged, in_flight) =
                    (Arc::clone(&acknowledged), Arc::clone(&in_flight_at_kill));
                tokio::spawn(async move {
                    let body = json!({"key": key});
                    loop {
                        match post(&http, &base_url, "/v1/keys.verifyKey", &body, false).await {
                            Ok((200, answer)) if answer["valid"] == json!(true) => {
                                acknowledged.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(_) => {}
                            // Refused: sent after the kill, so never spent.
                            Err(e) if e.is_connect() => return,
                            // Sent, and not answered: it may have been spent.
                            Err(_) => {
                                in_flight.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        // Each run is killed at another point of the key's life.
        let kill_at = REMAINING / 4 * (run + 1);
        let deadline = Instant::now() + Duration::from_secs(20);
        while acknowledged.load(Ordering::SeqCst) < kill_at && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.kill_9();
        for client in clients {
            client.await.expect("client");
        }

        let server = ServeProcess::start(&database.url(), &[]);
        let read = get_json(
            &http,
            &server.base_url,
            &format!("/v1/keys.getKey?keyId={key_id}"),
        )
        .await;
        let left = read["remaining"].as_i64().expect("remaining");
        let acknowledged = acknowledged.load(Ordering::SeqCst);
        let in_flight = in_flight_at_kill.load(Ordering::SeqCst);
        let spent = REMAINING - left;
        println!(
            "kill -9 under verify load, run {run}: remaining {REMAINING}, acknowledged {acknowledged}, \
             in flight at the kill {in_flight}, left after restart {left}, spent but unacknowledged {}",
            spent - acknowledged
        );
        assert!(acknowledged <= REMAINING, "never more successes than uses");
        assert!(
            acknowledged <= spent,
            "every acknowledged success is durable: {acknowledged} acknowledged, {spent} spent"
        );
        assert!(
            spent <= acknowledged + in_flight,
            "only spends in flight at the kill may be unacknowledged: {spent} spent, \
             {acknowledged} acknowledged, {in_flight} in flight"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_create_key_load_loses_no_key() {
    let database = Database::new();
    let server = ServeProcess::start(&database.url(), &[]);
    let http = reqwest::Client::new();
    let api_id = create_api(&http, &server.base_url).await;
    let created = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (http, base_url, api_id) = (http.clone(), server.base_url.clone(), api_id.clone());
            let created = Arc::clone(&created);
            tokio::spawn(async move {
                let body = json!({"apiId": api_id});
                while let Ok((status, answer)) =
                    post(&http, &base_url, "/v1/keys.createKey", &body, true).await
                {
                    assert_eq!(status, 200, "{answer}");
                    let key = answer["key"].as_str().expect("key").to_string();
                    created.lock().expect("keys").push(key);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while created.lock().expect("keys").len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill_9();
    for client in clients {
        client.await.expect("client");
    }

    let server = ServeProcess::start(&database.url(), &[]);
    let keys = created.lock().expect("keys").clone();
    for key in &keys {
        let (status, answer) = post(
            &http,
            &server.base_url,
            "/v1/keys.verifyKey",
            &json!({"key": key}),
            false,
        )
        .await
        .expect("verifyKey");
        assert_eq!(
            (status, answer["valid"].clone()),
            (200, json!(true)),
            "an acknowledged key survives the crash: {answer}"
        );
    }
    println!(
        "kill -9 under createKey load: {} acknowledged keys, all verify after restart",
        keys.len()
    );
}

/// The `host:port` of a base URL.
fn address(base_url: &str) -> &str {
    base_url.trim_start_matches("http://")
}

/// Reads until the server closes the connection (or 15 s pass); what it
/// sent, and when it closed.
fn read_until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            // A read with a timeout is not restarted after a signal.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Printed with the test's output should the timing fail.
                println!("the read ended with {e} after {:?}", since.elapsed());
                break;
            }
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        since.elapsed(),
    )
}

fn liveness_answers(base_url: &str) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address(base_url)).expect("connect");
    stream
        .write_all(b"GET /v1/liveness HTTP/1.1\r\nHost: keyward\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (answer, _) = read_until_closed(&mut stream, started);
    assert!(answer.starts_with("HTTP/1.1 200"), "liveness: {answer}");
    started.elapsed()
}

#[test]
fn silent_and_half_sent_connections_are_closed_and_never_starve_others() {
    // The test itself holds a thousand sockets.
    rlimit::increase_nofile_limit(4096).expect("open-file limit");

    // A thousand silent connections against a server limited to 1024 files.
    let database = Database::new();
    let server = ServeProcess::start_with_file_limit(&database.url(), 1024, &[]);
    let silent: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(address(&server.base_url)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let took = liveness_answers(&server.base_url);
    let closed_by_server = silent
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).expect("nonblocking");
            matches!((&**s).read(&mut [0u8; 1]), Ok(0))
        })
        .count();
    println!(
        "1000 silent connections at a file limit of 1024: liveness answered in {took:?}; \
         the server closed the {closed_by_server} oldest idle ones to stay under its cap"
    );
    assert!(took < Duration::from_secs(2), "liveness took {took:?}");
    drop(silent);
    drop(server);

    // Each kind of stalled connection is closed within its timeout.
    let database = Database::new();
    let server = ServeProcess::start(
        &database.url(),
        &["--request-timeout-secs", "1", "--idle-timeout-secs", "2"],
    );
    let connect = || TcpStream::connect(address(&server.base_url)).expect("connect");
    let within = |what: &str, took: Duration, limit: f64| {
        println!("{what}: closed after {:.2} s", took.as_secs_f64());
        assert!(
            took >= Duration::from_secs_f64(limit - 0.1)
                && took < Duration::from_secs_f64(limit + 1.5),
            "{what}: closed after {took:?}, not about {limit} s"
        );
    };

    let mut no_bytes = connect();
    let (_, took) = read_until_closed(&mut no_bytes, Instant::now());
    within("a connection that sends nothing", took, 1.0);

    let mut half_head = connect();
    half_head
        .write_all(b"GET /v1/liveness HTTP/1.1\r\nHost: keyward\r\n")
        .expect("write");
    let (_, took) = read_until_closed(&mut half_head, Instant::now());
    within("a connection that stops in its headers", took, 1.0);

    let mut half_body = connect();
    half_body
        .write_all(
            b"POST /v1/keys.verifyKey HTTP/1.1\r\nHost: keyward\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"key\":",
        )
        .expect("write");
    let (answer, took) = read_until_closed(&mut half_body, Instant::now());
    // The answer first: when the timing fails, it tells why.
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {took:?}: {answer}"
    );
    within("a connection that stops in its body", took, 1.0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let error: Value = serde_json::from_str(body).expect("an error body in Unkey's shape");
    assert_eq!(error["error"]["code"], json!("REQUEST_TIMEOUT"), "{error}");

    let mut idle = connect();
    idle.write_all(b"GET /v1/liveness HTTP/1.1\r\nHost: keyward\r\n\r\n")
        .expect("write");
    let (answer, took) = read_until_closed(&mut idle, Instant::now());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    within("an idle keep-alive connection", took, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_half_sent_body_exits_in_time_and_flushes_counts() {
    let database = Database::new();
    let server = ServeProcess::start(&database.url(), &["--shutdown-timeout-secs", "2"]);
    let http = reqwest::Client::new();
    let api_id = create_api(&http, &server.base_url).await;
    let (_, created) = post(
        &http,
        &server.base_url,
        "/v1/keys.createKey",
        &json!({"apiId": api_id}),
        true,
    )
    .await
    .expect("createKey");
    let key_id = created["keyId"].as_str().expect("keyId").to_string();
    for _ in 0..3 {
        let (_, answer) = post(
            &http,
            &server.base_url,
            "/v1/keys.verifyKey",
            &json!({"key": created["key"]}),
            false,
        )
        .await
        .expect("verify");
        assert_eq!(answer["valid"], json!(true));
    }
    // Counts are written every 10 s: these three are still in memory.
    let mut half_body = TcpStream::connect(address(&server.base_url)).expect("connect");
    half_body
        .write_all(
            b"POST /v1/keys.verifyKey HTTP/1.1\r\nHost: keyward\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"key\":",
        )
        .expect("write");
    std::thread::sleep(Duration::from_millis(200));
    server.terminate();
    let (status, took) = server
        .wait_exit(Duration::from_secs(15))
        .expect("the server exits");
    println!("SIGTERM with a half-sent body: exited with {status} after {took:?}");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(4), "took {took:?}");

    let server = ServeProcess::start(&database.url(), &[]);
    let counts = get_json(
        &http,
        &server.base_url,
        &format!("/v1/keys.getVerifications?keyId={key_id}"),
    )
    .await;
    assert_eq!(counts["verifications"][0]["success"], json!(3), "{counts}");
}

/// A token signed with the Ed25519 key `pkcs8`, named `kid`, with these claims.
fn forge(pkcs8: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ed_der(pkcs8),
    )
    .expect("signs")
}

#[tokio::test]
async fn forged_tokens_are_refused_and_secrets_are_private_files() {
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;
    let database = Database::new();
    let key_file = database.dir.path().join("signing.key");
    let key_file_arg = key_file.display().to_string();
    let server = ServeProcess::start(
        &database.url(),
        &["--token-signing-key-file", &key_file_arg],
    );
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let db = database.path();
    let mut private = vec![key_file.clone()];
    if !crate::common::POSTGRES {
        private.extend([
            db.clone(),
            db.with_extension("db-wal"),
            db.with_extension("db-shm"),
        ]);
    }
    for file in private {
        assert_eq!(mode(&file), 0o600, "{} is private", file.display());
    }

    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/oauth2/token", server.base_url))
        .basic_auth(ACCESS_KEY_ID, Some(ACCESS_KEY_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let access_token = token["access_token"].as_str().expect("token");
    let payload = access_token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("claims");
    let project = claims["project_id"].as_str().expect("project").to_string();
    let issuer = claims["iss"].as_str().expect("iss").to_string();
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(&key_file).expect("key file"))
        .expect("the key file is JSON");
    let current = &keys["keys"][0];
    let kid = current["kid"].as_str().expect("kid").to_string();
    let pkcs8 = base64::engine::general_purpose::STANDARD
        .decode(current["privateKey"].as_str().expect("privateKey"))
        .expect("base64 key");
    let stranger = keyward::domain::sinch::signing::generate(0).expect("a key");

    let now = chrono::Utc::now().timestamp();
    let with = |iat: i64, exp: i64| {
        forge(
            &pkcs8,
            &kid,
            &json!({"iss": issuer, "sub": ACCESS_KEY_ID, "project_id": project, "iat": iat, "exp": exp, "jti": "forged"}),
        )
    };
    let like_issued = json!({"iss": issuer, "sub": ACCESS_KEY_ID, "project_id": project,
                             "iat": now, "exp": now + 600, "jti": "forged"});
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &like_issued,
        &jsonwebtoken::EncodingKey::from_secret(b"an HS256 secret of keyward before EdDSA"),
    )
    .expect("signs");
    let path = format!("/v1/projects/{project}/accessKeys");
    for (what, token, expected) in [
        ("the issued token", access_token.to_string(), 200),
        ("a token like the issued ones", with(now, now + 600), 200),
        (
            "a token that lives ten years",
            with(now, now + 10 * 365 * 86_400),
            401,
        ),
        (
            "a token issued an hour from now",
            with(now + 3600, now + 7200),
            401,
        ),
        (
            "a token signed by another key under the real kid",
            forge(&stranger.private_key, &kid, &like_issued),
            401,
        ),
        ("an HS256 token from before EdDSA", hs256, 401),
    ] {
        let response = crate::common::send(
            &http,
            &server.base_url,
            Api::Sinch,
            Request::get(&path).header("authorization", format!("Bearer {token}")),
        )
        .await;
        assert_eq!(response.status, expected, "{what}: {}", response.body);
        if what.contains("HS256") {
            // Answered as expired, so that every SDK fetches a new token.
            let challenge = response.header("www-authenticate").unwrap_or_default();
            assert!(challenge.contains("expired"), "{what}: {challenge}");
        }
    }
    drop(server);
    if crate::common::POSTGRES {
        // Who may read a PostgreSQL database is PostgreSQL's to decide.
        return;
    }

    // A database that others may read gets a warning at start.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let server = ServeProcess::start(&database.url(), &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        server.stderr().contains("run chmod 600"),
        "{}",
        server.stderr()
    );
}

/// Holds the database's write lock from another process's connection for
/// `hold`: SQLite's one write lock, or on PostgreSQL, exclusive locks on the
/// tables the test writes.
fn hold_write_lock(
    server: &crate::common::TestServer,
    hold: Duration,
) -> std::thread::JoinHandle<()> {
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = if crate::common::POSTGRES {
        let url = server.database_url().to_string();
        std::thread::spawn(move || {
            let mut psql = std::process::Command::new("psql")
                .arg(url)
                .args([
                    "-q",
                    "-c",
                    &format!(
                        "BEGIN; LOCK TABLE keys, access_keys IN EXCLUSIVE MODE; \
                         SELECT pg_sleep({}); COMMIT;",
                        hold.as_secs_f64()
                    ),
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("psql runs");
            // psql takes the locks at once; give it a moment to connect.
            std::thread::sleep(Duration::from_millis(500));
            locked.send(()).expect("signal");
            psql.wait().expect("psql ends");
        })
    } else {
        let path = server.database_path();
        std::thread::spawn(move || {
            let connection = rusqlite::Connection::open(path).expect("open");
            connection
                .execute_batch("BEGIN IMMEDIATE")
                .expect("write lock");
            locked.send(()).expect("signal");
            std::thread::sleep(hold);
            connection.execute_batch("COMMIT").expect("commit");
        })
    };
    is_locked.recv().expect("locked");
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_holding_the_lock_past_the_busy_timeout_gets_retry_after() {
    let fx = crate::unkey::Fixture::new().await;
    let create = json!({"apiId": fx.api_id});

    // Shorter than the busy timeout: the writes wait, and succeed.
    let holder = hold_write_lock(&fx.server, Duration::from_secs(2));
    let started = Instant::now();
    let waited = fx.post("/v1/keys.createKey", create.clone()).await;
    assert_eq!(waited.status, 200, "{}", waited.body);
    println!(
        "a 2 s hold by another writer: createKey answered 200 after {:?}",
        started.elapsed()
    );
    holder.join().expect("holder");

    // Longer: the documented 500, saying why, with Retry-After. Writes queue
    // for keyward's one writer connection, so the second one gives up only
    // after two busy timeouts: the hold outlasts both.
    let holder = hold_write_lock(&fx.server, Duration::from_secs(11));
    let project = fx.server.bootstrap().sinch.project_id.clone();
    let keys_path = format!("/v1/projects/{project}/accessKeys");
    let sinch_create = Request::post(&keys_path)
        .json(&json!({"displayName": "while busy"}))
        .header(
            "authorization",
            crate::sinch::basic(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        );
    let (busy, sinch_busy) = tokio::join!(
        fx.post("/v1/keys.createKey", create.clone()),
        fx.server.send(Api::Sinch, sinch_create)
    );
    holder.join().expect("holder");
    assert_eq!(sinch_busy.status, 503, "{}", sinch_busy.body);
    assert_eq!(sinch_busy.header("retry-after"), Some("1"));
    crate::assert_response_snapshot!("sinch_503_database_busy", sinch_busy);
    assert_eq!(busy.status, 500, "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));
    let message = busy.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("database is busy"), "{message}");
    crate::assert_response_snapshot!("unkey_500_database_busy", busy);
    let after = fx.post("/v1/keys.createKey", create).await;
    assert_eq!(after.status, 200, "and once the lock is free, writes work");
    fx.shutdown().await;
}
