//! The `keyward` binary: admin commands, and `serve` on an empty database.

use crate::common::{self, Api, Request};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("keyward.db").display())
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
        command.env("KEYWARD_DATABASE_URL", self.database_url());
        command
    }

    /// Runs a command that must succeed and returns its stdout.
    fn run(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().expect("keyward runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "keyward {args:?} failed: {stderr}");
        String::from_utf8(output.stdout).expect("UTF-8")
    }

    /// `keyward serve` on a random port, printing bootstrap credentials as
    /// JSON on stdout.
    fn serve(&self) -> std::process::Child {
        self.command()
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--json",
                "--log-level",
                "error",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keyward serve starts")
    }

    fn run_json(&self, args: &[&str]) -> Value {
        let stdout = self.run(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("keyward {args:?} printed no JSON ({e}): {stdout}"))
    }
}

/// Reads `serve`'s stderr up to the line that says it is listening, and
/// returns the address it names. Then closes stderr, as a log collector
/// that went away would: the server must still shut down cleanly.
fn listening_address(child: &mut std::process::Child) -> String {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).expect("stderr") > 0,
            "serve exited before listening"
        );
        if let Some(url) = common::process::listening_url(&line) {
            return url.to_string();
        }
    }
}

#[test]
fn workspaces_root_keys_and_roles() {
    let cli = Cli::new();
    let workspace = cli.run_json(&["workspace", "create", "acme", "--json"]);
    let workspace_id = workspace["workspaceId"].as_str().expect("workspace id");
    assert!(workspace_id.starts_with("ws_"));
    assert!(
        workspace["rootKey"]
            .as_str()
            .expect("root key")
            .starts_with("unkey_")
    );
    assert_eq!(workspace["permissions"], serde_json::json!(["*"]));
    assert!(
        !cli.dir.path().join("keyward.db-wal").exists(),
        "a command leaves no write-ahead log behind: its writes are in the database file"
    );

    let root_key = cli.run_json(&[
        "root-key",
        "create",
        "--workspace",
        workspace_id,
        "--permission",
        "api.*.create_key",
        "--permission",
        "api.*.read_key",
        "--json",
    ]);
    assert_eq!(
        root_key["permissions"],
        serde_json::json!(["api.*.create_key", "api.*.read_key"])
    );
    assert_ne!(root_key["rootKey"], workspace["rootKey"]);

    let role_id = cli.run(&[
        "role",
        "create",
        "--workspace",
        workspace_id,
        "admin",
        "--permission",
        "documents.read",
    ]);
    assert!(role_id.trim().starts_with("role_"));
    cli.run(&["workspace", "disable", workspace_id]);

    // Global options go before or after the subcommand.
    let other = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", other.path().join("other.db").display());
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["workspace", "create", "x", "--database-url", &url, "--json"])
        .output()
        .expect("keyward runs");
    assert!(output.status.success());
    assert!(other.path().join("other.db").exists());
}

#[test]
fn unknown_workspaces_and_duplicate_roles_are_refused() {
    let cli = Cli::new();
    let output = cli
        .command()
        .args(["root-key", "create", "--workspace", "ws_nope"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no workspace ws_nope"));

    let workspace = cli.run_json(&["workspace", "create", "acme", "--json"]);
    let id = workspace["workspaceId"].as_str().expect("id");
    cli.run(&["role", "create", "--workspace", id, "admin"]);
    let again = cli
        .command()
        .args(["role", "create", "--workspace", id, "admin"])
        .output()
        .expect("runs");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn projects_get_an_access_key() {
    let cli = Cli::new();
    let project = cli.run_json(&["project", "create", "--name", "shop", "--json"]);
    assert_eq!(project["projectId"].as_str().map(str::len), Some(36));
    assert_eq!(project["accessKeyId"].as_str().map(str::len), Some(36));
    assert_eq!(project["secret"].as_str().map(str::len), Some(43));
}

#[test]
fn serve_bootstraps_an_empty_database_and_stops_on_sigterm() {
    let cli = Cli::new();
    let mut child = cli.serve();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("bootstrap line");
    let bootstrap: Value = serde_json::from_str(&line).expect("bootstrap JSON");
    assert_eq!(bootstrap["unkey"]["permissions"], serde_json::json!(["*"]));
    assert!(bootstrap["sinch"]["secret"].is_string());

    let address = listening_address(&mut child);
    // The printed credentials work: the root key is authenticated (a missing
    // api is a 404, not a 401) and the access key lists its project's keys.
    // Each response is checked against its spec, as everywhere in the suite.
    let root_key = bootstrap["unkey"]["rootKey"].as_str().expect("root key");
    let basic = {
        use base64::Engine;
        let sinch = &bootstrap["sinch"];
        let credentials = format!(
            "{}:{}",
            sinch["accessKeyId"].as_str().expect("access key id"),
            sinch["secret"].as_str().expect("secret")
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    };
    let project = bootstrap["sinch"]["projectId"].as_str().expect("project");
    let keys_path = format!("/v1/projects/{project}/accessKeys");
    let statuses = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let http = reqwest::Client::new();
            let send = |api, request| common::send(&http, &address, api, request);
            [
                send(Api::Unkey, Request::get("/v1/liveness")).await.status,
                send(
                    Api::Unkey,
                    Request::get("/v1/apis.getApi?apiId=api_missing")
                        .header("authorization", format!("Bearer {root_key}")),
                )
                .await
                .status,
                send(
                    Api::Sinch,
                    Request::get(&keys_path).header("authorization", basic.clone()),
                )
                .await
                .status,
            ]
        });
    assert_eq!(statuses, [200, 404, 200]);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("serve exits");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    // A second start on the same database bootstraps nothing.
    let mut again = cli.serve();
    // Listening means start-up, bootstrap included, is over.
    listening_address(&mut again);
    let _ = Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status();
    let output = again.wait_with_output().expect("serve exits");
    assert!(output.stdout.is_empty(), "no credentials on a second start");
}
