//! The token flow driven by Sinch's official Node SDK (`@sinch/sdk-client`
//! 1.5.0 with `@sinch/sdk-core` 1.4.0), pointed at keyward through its
//! `authHostname`. Skipped, with the reason printed, where Node is missing.

use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, TestServer};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PACKAGES: [&str; 2] = ["@sinch/sdk-client@1.5.0", "@sinch/sdk-core@1.4.0"];

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs the SDK once per target directory.
fn sdk_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sinch-node-sdk");
    if !dir
        .join("node_modules/@sinch/sdk-client/package.json")
        .exists()
    {
        std::fs::create_dir_all(&dir).expect("SDK folder");
        let status = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .args(PACKAGES)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm install {PACKAGES:?} failed");
    }
    dir
}

#[tokio::test]
async fn the_official_node_sdk_fetches_and_refreshes_tokens() {
    if !runs("node") || !runs("npm") {
        // In CI (.ci/run installs Node.js) this test must run, never skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "Node.js and npm are required in CI: .ci/run installs them"
        );
        println!(
            "skipped: Node.js and npm are not installed, so the official Sinch SDK cannot run"
        );
        return;
    }
    let sdk = tokio::task::spawn_blocking(sdk_dir)
        .await
        .expect("npm install");
    // Keyward's clock starts at real time, so that the SDK, which reads the
    // token's exp itself, takes it for fresh.
    let now = keyward::domain::clock::Clock::now_ms(&keyward::domain::clock::SystemClock);
    let server = TestServer::start_at(now).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sinch/official_sdk.js");
    let mut node = Command::new("node")
        .arg(&script)
        .env("NODE_PATH", sdk.join("node_modules"))
        .env("KEYWARD_URL", &server.base_url)
        .env("PROJECT_ID", &server.bootstrap().sinch.project_id)
        .env("KEY_ID", ACCESS_KEY_ID)
        .env("KEY_SECRET", ACCESS_KEY_SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node starts");
    let mut stdin = node.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(node.stdout.take().expect("stdout"));

    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        (line, stdout)
    });
    let (line, mut stdout) = first.await.expect("first call");
    assert_eq!(
        line.trim(),
        "first 1",
        "the SDK got a token and listed the keys"
    );

    // The SDK's cached token now gets a 401 saying "expired"; it must fetch
    // a new one and retry.
    server.clock.advance_ms(3_601_000);
    writeln!(stdin, "go").expect("signal");
    let second = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("second line");
        line
    });
    assert_eq!(
        second.await.expect("second call").trim(),
        "second 1",
        "the SDK refreshed its token"
    );
    let status = tokio::task::spawn_blocking(move || node.wait())
        .await
        .expect("wait")
        .expect("node exits");
    assert!(status.success());
    server.shutdown().await;
}
