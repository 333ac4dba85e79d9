//! `GET /readyz`: 200 while the node should get traffic; 503, with the
//! reason, when the database does not answer or a shutdown has begun.

use crate::common::TestServer;
use crate::common::process::{Database, ServeProcess};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn readyz(http: &reqwest::Client, base_url: &str) -> (u16, Value) {
    let response = http
        .get(format!("{base_url}/readyz"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("no answer from {base_url}/readyz: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// Ends every connection to the PostgreSQL database of `url`, and lets no
/// new one in.
fn refuse_connections(url: &str) {
    let (server, name) = url.rsplit_once('/').expect("a database URL");
    let sql = format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    );
    let status = std::process::Command::new("psql")
        .arg(format!("{server}/postgres"))
        .args(["-q", "-c", &sql])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql: {sql}");
}

#[tokio::test]
async fn ready_while_the_database_answers() {
    let server = TestServer::start().await;
    let (status, body) = readyz(&server.http, &server.base_url).await;
    assert_eq!((status, body), (200, json!({"status": "ready"})));

    // A database that no longer answers: the node must not get traffic.
    if crate::common::POSTGRES {
        refuse_connections(server.database_url());
    } else {
        server.storage().close().await;
    }
    let (status, body) = readyz(&server.http, &server.base_url).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], json!("unavailable"));
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("database"), "{reason}");
    // Liveness stays the Unkey route it is: no I/O, still 200.
    let live = server
        .http
        .get(format!("{}/v1/liveness", server.base_url))
        .send()
        .await
        .expect("liveness");
    assert_eq!(live.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_turns_readiness_off_before_it_stops_serving() {
    let database = Database::new();
    let server = ServeProcess::start(&database.url(), &["--drain-secs", "2"]);
    // A new connection per probe, as a load balancer's: it shows the server
    // still accepts while it drains, and no probe rides a kept-alive
    // connection that the server may be closing.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    assert_eq!(
        readyz(&http, &server.base_url).await.0,
        200,
        "before SIGTERM"
    );

    let started = Instant::now();
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = readyz(&http, &server.base_url).await;
    assert_eq!(status, 503, "not ready once SIGTERM came: {body}");
    assert_eq!(body["reason"], json!("shutting down"));
    let live = http
        .get(format!("{}/v1/liveness", server.base_url))
        .send()
        .await
        .expect("still serving while it drains");
    assert_eq!(live.status(), 200);

    let base_url = server.base_url.clone();
    let (exit, took) =
        tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(10)))
            .await
            .expect("wait")
            .expect("exits");
    assert!(exit.success(), "{exit}");
    let total = started.elapsed();
    println!("SIGTERM with --drain-secs 2: exited after {total:?} ({took:?})");
    assert!(
        total >= Duration::from_secs(2),
        "it drained for 2 s: {total:?}"
    );
    assert!(
        http.get(format!("{base_url}/readyz")).send().await.is_err(),
        "then it stopped taking connections"
    );
}

/// SIGTERM is caught before the server listens, so from its first answer on
/// a SIGTERM is a graceful shutdown. The handlers used to be installed after
/// the "serving" line, and once in CI a SIGTERM sent right after a first
/// probe landed in between and killed the process, pending counts and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_caught_before_the_server_listens() {
    let database = Database::new();
    let (server, port) = start_on_a_known_port(&database);

    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never listened"
        );
        // Read first: if the port then answers, the handler was in place
        // when it opened.
        let caught = catches_sigterm(server.pid());
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(caught, "it listened before it caught SIGTERM");
            break;
        }
        // No sleep: the old order left the port open without the handler
        // for well under a millisecond.
        tokio::task::yield_now().await;
    }
    server.terminate();
    let (exit, _) = tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(10)))
        .await
        .expect("wait")
        .expect("exits");
    // Killed by the signal, it would have no exit code.
    assert_eq!(exit.code(), Some(0), "{exit}");
}

/// Whether process `pid` catches SIGTERM: bit 14 (signal 15) of the
/// `SigCgt` mask in /proc/PID/status.
fn catches_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 14) != 0)
}

/// During start-up a node is never ready before its migrations are done: it
/// listens only after them, so a probe finds nothing until the first answer,
/// and that answer is 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_is_not_ready_until_migrations_are_done() {
    let database = Database::new();
    let (server, port) = start_on_a_known_port(&database);
    let base_url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");

    let started = Instant::now();
    let mut refused = 0;
    let (status, body) = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never answered"
        );
        match http.get(format!("{base_url}/readyz")).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                break (status, response.json::<Value>().await.expect("JSON"));
            }
            Err(_) => refused += 1,
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    println!(
        "readiness: {refused} refused probes, then {status} after {:?}",
        started.elapsed()
    );
    assert_eq!((status, body), (200, json!({"status": "ready"})));
    // Ready means migrated: the newest table (the audit log) is there.
    let output = crate::common::process::keyward(&database.url())
        .args(["audit", "list", "--json"])
        .output()
        .expect("keyward runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.terminate();
}

/// Starts `serve` on a port chosen beforehand, without waiting for it to
/// listen: for tests that watch it start.
fn start_on_a_known_port(database: &Database) -> (ServeProcess, u16) {
    let port = port_no_other_server_takes();
    let mut command = crate::common::process::keyward(&database.url());
    command.args([
        "serve",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--log-level",
        "warn",
    ]);
    (ServeProcess::spawn_unwaited(command), port)
}

/// A free port below Linux's ephemeral range (32768 and up), which every
/// other test server binds from (`127.0.0.1:0`): none of them can take it
/// between this check and the server's bind.
fn port_no_other_server_takes() -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos() as u64);
    (0..1000u64)
        .map(|i| 20_000 + ((seed + i * 7919) % 10_000) as u16)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port between 20000 and 30000")
}
