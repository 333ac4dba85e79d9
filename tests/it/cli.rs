//! The `keyward` binary: admin commands, and `serve` on an empty database.

use crate::common::{self, Api, Request};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Cli {
    dir: tempfile::TempDir,
    url: String,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = common::fresh_database_url(dir.path());
        Cli { dir, url }
    }

    fn database_url(&self) -> String {
        self.url.clone()
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
        common::POSTGRES || !cli.dir.path().join("keyward.db-wal").exists(),
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

/// A command's output with what differs between runs replaced, and column
/// padding (which follows the lengths of ids) cut to two spaces.
fn redacted_table(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = common::redact_ids(line);
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(|cell| {
                    cell.split(' ')
                        .map(|word| match word {
                            w if w.len() == 20 && w.ends_with('Z') && w.contains('T') => "[time]",
                            w if w.starts_with("unkey_") => "unkey_[start]",
                            w if w.starts_with("ws_") || w.starts_with("key_") => "[id]",
                            w => w,
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("  ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that every row of a table starts its second column where the
/// header does, and snapshots it.
fn assert_table(name: &str, text: &str) {
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let second = header
        .find("  ")
        .map(|i| i + header[i..].find(|c: char| c != ' ').unwrap_or(0));
    for line in lines {
        if let Some(column) = second {
            assert!(
                line.len() > column
                    && &line[column - 1..column] == " "
                    && &line[column..=column] != " ",
                "{name}: columns are aligned:\n{text}"
            );
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, redacted_table(text)));
}

/// Runs a command that must fail; returns its exit code and stderr.
fn failing(cli: &Cli, args: &[&str]) -> (i32, String) {
    let output = cli.command().args(args).output().expect("keyward runs");
    assert!(!output.status.success(), "keyward {args:?} should fail");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_list_answers_in_json_and_as_a_table() {
    let cli = Cli::new();
    let workspace = cli.run_json(&["workspace", "create", "acme", "--json"]);
    let ws = workspace["workspaceId"].as_str().expect("id").to_string();
    cli.run_json(&[
        "root-key",
        "create",
        "--workspace",
        &ws,
        "--permission",
        "api.*.read_key",
        "--json",
    ]);
    let role = cli.run_json(&[
        "role",
        "create",
        "--workspace",
        &ws,
        "reader",
        "--permission",
        "documents.read",
        "--permission",
        "documents.list",
        "--json",
    ]);
    assert_eq!(role["name"], json!("reader"));
    let project = cli.run_json(&["project", "create", "--name", "shop", "--json"]);
    let project_id = project["projectId"].as_str().expect("project").to_string();
    let second = cli.run_json(&[
        "access-key",
        "create",
        "--project",
        &project_id,
        "--display-name",
        "recovery",
        "--json",
    ]);
    assert_eq!(
        second["secret"].as_str().map(str::len),
        Some(43),
        "the secret, shown once"
    );

    let workspaces = cli.run_json(&["workspace", "list", "--json"]);
    assert_eq!(workspaces[0]["id"], json!(ws));
    assert_eq!(
        (
            workspaces[0]["apis"].clone(),
            workspaces[0]["rootKeys"].clone()
        ),
        (json!(0), json!(2))
    );
    let root_keys = cli.run_json(&["root-key", "list", "--workspace", &ws, "--json"]);
    assert_eq!(root_keys[1]["permissions"], json!(["api.*.read_key"]));
    assert_eq!(root_keys[0]["lastUsedAt"], Value::Null);
    assert!(root_keys[0].get("hash").is_none() && root_keys[0].get("key").is_none());
    let roles = cli.run_json(&["role", "list", "--workspace", &ws, "--json"]);
    assert_eq!(
        roles[0]["permissions"],
        json!(["documents.list", "documents.read"])
    );
    assert_eq!(roles[0]["keys"], json!(0));
    let projects = cli.run_json(&["project", "list", "--json"]);
    assert_eq!(projects[0]["accessKeys"], json!(2));
    let access_keys = cli.run_json(&["access-key", "list", "--project", &project_id, "--json"]);
    assert_eq!(access_keys[1]["displayName"], json!("recovery"));
    let listed = cli.run(&["access-key", "list", "--project", &project_id]);
    assert!(
        !listed.contains(second["secret"].as_str().expect("secret")),
        "never the secret"
    );

    assert_table("cli_workspace_list", &cli.run(&["workspace", "list"]));
    assert_table(
        "cli_root_key_list",
        &cli.run(&["root-key", "list", "--workspace", &ws]),
    );
    assert_table(
        "cli_role_list",
        &cli.run(&["role", "list", "--workspace", &ws]),
    );
    assert_table("cli_project_list", &cli.run(&["project", "list"]));
    assert_table("cli_access_key_list", &listed);

    assert_eq!(
        cli.run_json(&["workspace", "disable", &ws, "--json"])["enabled"],
        json!(false)
    );
    assert_eq!(
        cli.run(&["workspace", "enable", &ws]).trim(),
        format!("workspace {ws} is enabled")
    );
    assert_eq!(
        cli.run_json(&["workspace", "list", "--json"])[0]["enabled"],
        json!(true)
    );
}

#[test]
fn errors_exit_with_their_codes_and_change_nothing() {
    let cli = Cli::new();
    let workspace = cli.run_json(&["workspace", "create", "acme", "--json"]);
    let ws = workspace["workspaceId"].as_str().expect("id").to_string();
    let project = cli.run_json(&["project", "create", "--json"]);
    let project_id = project["projectId"].as_str().expect("project").to_string();
    let only_key = project["accessKeyId"].as_str().expect("key").to_string();
    cli.run(&["role", "create", "--workspace", &ws, "admin"]);

    for (args, code, says) in [
        (
            vec!["root-key", "list", "--workspace", "ws_nope"],
            3,
            "no workspace ws_nope",
        ),
        (
            vec!["root-key", "revoke", "key_nope"],
            3,
            "no live root key key_nope",
        ),
        (
            vec!["workspace", "enable", "ws_nope"],
            3,
            "no workspace ws_nope",
        ),
        (
            vec!["role", "delete", "--workspace", &ws, "nope"],
            3,
            "no role nope",
        ),
        (
            vec!["access-key", "list", "--project", "nope"],
            3,
            "no project nope",
        ),
        (
            vec!["access-key", "revoke", "--project", &project_id, "nope"],
            3,
            "no access key nope",
        ),
        (
            vec!["role", "create", "--workspace", &ws, "admin"],
            4,
            "already exists",
        ),
        (
            vec!["access-key", "revoke", "--project", &project_id, &only_key],
            4,
            "last access key",
        ),
        (
            vec![
                "access-key",
                "create",
                "--project",
                &project_id,
                "--display-name",
                "default",
            ],
            4,
            "already exists",
        ),
        (vec!["role", "delete", "--workspace", &ws], 2, "ROLE_NAME"),
    ] {
        let (exit, stderr) = failing(&cli, &args);
        assert_eq!(exit, code, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // The refused revoke changed nothing; with --force it goes.
    let keys = cli.run_json(&["access-key", "list", "--project", &project_id, "--json"]);
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    cli.run(&[
        "access-key",
        "revoke",
        "--project",
        &project_id,
        &only_key,
        "--force",
    ]);
    let keys = cli.run_json(&["access-key", "list", "--project", &project_id, "--json"]);
    assert_eq!(keys, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_from_the_cli_reach_running_servers() {
    use crate::common::process::{BOUND, ServeProcess, create_api, post, seen_within, verify_code};
    let cli = Cli::new();
    let one = ServeProcess::start(&cli.database_url(), &[]);
    let other = ServeProcess::start(&cli.database_url(), &[]);
    let http = reqwest::Client::new();
    let api_id = create_api(&http, &one.base_url).await;
    let workspaces = cli.run_json(&["workspace", "list", "--json"]);
    let ws = workspaces[0]["id"].as_str().expect("workspace").to_string();

    // A revoked root key: 401 on the other server.
    let root = cli.run_json(&[
        "root-key",
        "create",
        "--workspace",
        &ws,
        "--permission",
        "*",
        "--json",
    ]);
    let root_key = root["rootKey"].as_str().expect("root key").to_string();
    let get_api = || {
        let (http, url, root_key) = (
            http.clone(),
            format!("{}/v1/apis.getApi?apiId={api_id}", other.base_url),
            root_key.clone(),
        );
        async move {
            let response = http
                .get(url)
                .bearer_auth(root_key)
                .send()
                .await
                .expect("getApi");
            json!(response.status().as_u16())
        }
    };
    assert_eq!(get_api().await, json!(200));
    cli.run(&[
        "root-key",
        "revoke",
        root["rootKeyId"].as_str().expect("id"),
    ]);
    let root_took = seen_within("a revoked root key", json!(401), get_api).await;
    let listed = cli.run_json(&["root-key", "list", "--workspace", &ws, "--json"]);
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(1),
        "only the bootstrap key is left"
    );

    // A deleted role: its permission no longer verifies.
    cli.run(&[
        "role",
        "create",
        "--workspace",
        &ws,
        "editor",
        "--permission",
        "documents.write",
    ]);
    let (_, created) = post(
        &http,
        &one.base_url,
        "/v1/keys.createKey",
        &json!({"apiId": api_id, "roles": ["editor"]}),
        true,
    )
    .await
    .expect("createKey");
    let key = created["key"].as_str().expect("key").to_string();
    let check = || {
        let (http, url, key) = (http.clone(), other.base_url.clone(), key.clone());
        async move {
            let body = json!({"key": key, "authorization": {"permissions": "documents.write"}});
            match post(&http, &url, "/v1/keys.verifyKey", &body, false).await {
                Ok((_, answer)) if answer["valid"] == json!(true) => json!("VALID"),
                Ok((_, answer)) => answer["code"].clone(),
                Err(e) => json!(e.to_string()),
            }
        }
    };
    assert_eq!(check().await, json!("VALID"));
    let roles = cli.run_json(&["role", "list", "--workspace", &ws, "--json"]);
    assert_eq!(roles[0]["keys"], json!(1));
    let (exit, _) = failing(&cli, &["role", "delete", "--workspace", &ws, "editor"]);
    assert_eq!(exit, 4, "a role that keys hold needs --force");
    cli.run(&["role", "delete", "--workspace", &ws, "editor", "--force"]);
    let role_took = seen_within("a deleted role", json!("INSUFFICIENT_PERMISSIONS"), check).await;
    assert_eq!(
        verify_code(&http, &other.base_url, &key).await,
        json!("VALID"),
        "the key itself still verifies"
    );

    // A revoked access key and a token issued for it.
    let projects = cli.run_json(&["project", "list", "--json"]);
    let project = projects[0]["id"].as_str().expect("project").to_string();
    let issued = cli.run_json(&["access-key", "create", "--project", &project, "--json"]);
    let (id, secret) = (
        issued["accessKeyId"].as_str().expect("id").to_string(),
        issued["secret"].as_str().expect("secret").to_string(),
    );
    let token: Value = http
        .post(format!("{}/oauth2/token", one.base_url))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let bearer = format!("Bearer {}", token["access_token"].as_str().expect("token"));
    let basic = crate::sinch::basic(&id, &secret);
    let list = |authorization: String| {
        let (http, url) = (
            http.clone(),
            format!("{}/v1/projects/{project}/accessKeys", other.base_url),
        );
        async move {
            let response = http
                .get(url)
                .header("authorization", authorization)
                .send()
                .await
                .expect("list");
            json!(response.status().as_u16())
        }
    };
    assert_eq!(list(basic.clone()).await, json!(200));
    assert_eq!(list(bearer.clone()).await, json!(200));
    cli.run(&["access-key", "revoke", "--project", &project, &id]);
    let basic_took = seen_within("a revoked access key (Basic)", json!(401), || {
        list(basic.clone())
    })
    .await;
    let bearer_took = seen_within("a revoked access key's token", json!(401), || {
        list(bearer.clone())
    })
    .await;
    for took in [root_took, role_took, basic_took, bearer_took] {
        assert!(took <= BOUND, "took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_key_rotations_from_the_cli_reach_running_servers() {
    use crate::common::process::{ServeProcess, seen_within};
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let key_file = cli.dir.path().join("signing-keys.json");
    let key_file_arg = key_file.display().to_string();
    let in_database = ServeProcess::start(&cli.database_url(), &[]);
    let in_file = ServeProcess::start(
        &cli.database_url(),
        &["--token-signing-key-file", &key_file_arg],
    );
    let http = reqwest::Client::new();
    let kids = |base_url: String| {
        let http = http.clone();
        async move {
            let jwks: Value = http
                .get(format!("{base_url}/.well-known/jwks.json"))
                .send()
                .await
                .expect("JWKS")
                .json()
                .await
                .expect("JSON");
            let kids: Vec<Value> = jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|k| k["kid"].clone())
                .collect();
            json!(kids)
        }
    };

    for (server, location) in [
        (&in_database, vec![]),
        (&in_file, vec!["--token-signing-key-file", &key_file_arg]),
    ] {
        let before = kids(server.base_url.clone()).await;
        assert_eq!(before.as_array().map(Vec::len), Some(1), "{before}");
        let mut rotate = vec!["signing-key", "rotate", "--json"];
        rotate.extend(&location);
        let rotated = cli.run_json(&rotate);
        let kid = rotated["kid"].clone();
        let expected = json!([kid, before[0]]);
        if location.is_empty() {
            // Through the change log, like every other change.
            seen_within("a rotated signing key", expected, || {
                kids(server.base_url.clone())
            })
            .await;
        } else {
            // The server reads the file again within a second of a change.
            let started = std::time::Instant::now();
            while kids(server.base_url.clone()).await != expected {
                assert!(started.elapsed() < std::time::Duration::from_secs(3));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let mut list = vec!["signing-key", "list", "--json"];
        list.extend(&location);
        let listed = cli.run_json(&list);
        assert_eq!(listed[0]["kid"], kid);
        assert_eq!(listed[0]["retiredAt"], Value::Null);
        assert!(listed[1]["retiredAt"].is_string(), "{listed}");
        assert!(
            !listed.to_string().contains("privateKey"),
            "a list never shows a key"
        );
    }
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the rewritten key file stays private");
}

/// Every CLI command that changes state leaves one record with the actor
/// `cli`; `audit list` filters by workspace, project, time and count, and
/// prints no secret.
#[test]
fn every_changing_command_is_in_the_audit_log() {
    let cli = Cli::new();
    let workspace = cli.run_json(&["workspace", "create", "acme", "--json"]);
    let workspace_id = workspace["workspaceId"].as_str().expect("workspace id");
    let root_key = cli.run_json(&[
        "root-key",
        "create",
        "--workspace",
        workspace_id,
        "--permission",
        "api.*.read_key",
        "--json",
    ]);
    let root_key_id = root_key["rootKeyId"].as_str().expect("root key id");
    cli.run(&[
        "role",
        "create",
        "--workspace",
        workspace_id,
        "admin",
        "--permission",
        "a.b",
    ]);
    cli.run(&["role", "delete", "--workspace", workspace_id, "admin"]);
    cli.run(&["workspace", "disable", workspace_id]);
    cli.run(&["workspace", "enable", workspace_id]);
    cli.run(&["root-key", "revoke", root_key_id]);
    let project = cli.run_json(&["project", "create", "--name", "shop", "--json"]);
    let project_id = project["projectId"].as_str().expect("project id");
    let access_key = cli.run_json(&[
        "access-key",
        "create",
        "--project",
        project_id,
        "--display-name",
        "second",
        "--json",
    ]);
    let access_key_id = access_key["accessKeyId"].as_str().expect("access key id");
    cli.run(&[
        "access-key",
        "revoke",
        "--project",
        project_id,
        access_key_id,
    ]);
    let rotated = cli.run_json(&["signing-key", "rotate", "--json"]);

    let all = cli.run_json(&["audit", "list", "--json", "--limit", "1000"]);
    let all = all.as_array().expect("a list");
    let actions: Vec<(&str, &str)> = all
        .iter()
        .rev()
        .map(|r| {
            assert_eq!(r["actor"], "cli");
            assert_eq!(r["requestId"], Value::Null);
            (
                r["action"].as_str().unwrap_or_default(),
                r["target"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let first_root_key = workspace["rootKeyId"].as_str().expect("root key id");
    let project_key = project["accessKeyId"].as_str().expect("access key id");
    let kid = rotated["kid"].as_str().unwrap_or_default();
    assert_eq!(
        actions,
        [
            ("workspace.create", workspace_id),
            ("root_key.create", first_root_key),
            ("root_key.create", root_key_id),
            ("role.create", actions[3].1),
            ("role.delete", "admin"),
            ("workspace.disable", workspace_id),
            ("workspace.enable", workspace_id),
            ("root_key.revoke", root_key_id),
            ("project.create", project_id),
            ("access_key.create", project_key),
            ("access_key.create", access_key_id),
            ("access_key.revoke", access_key_id),
            ("signing_key.rotate", kid),
        ]
    );
    assert!(actions[3].1.starts_with("role_"));
    let revoked = &all[all.len() - 8];
    assert_eq!(revoked["workspaceId"], workspace_id, "{revoked}");
    assert_eq!(
        all[all.len() - 4]["summary"],
        json!({"name": "admin", "permissions": ["a.b"]})
    );

    let in_workspace = cli.run_json(&["audit", "list", "--json", "--workspace", workspace_id]);
    assert_eq!(in_workspace.as_array().map(Vec::len), Some(8));
    let in_project = cli.run_json(&["audit", "list", "--json", "--project", project_id]);
    assert_eq!(in_project.as_array().map(Vec::len), Some(4));
    let newest = cli.run_json(&["audit", "list", "--json", "--limit", "1"]);
    assert_eq!(newest[0]["action"], "signing_key.rotate");
    let future = cli.run_json(&["audit", "list", "--json", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(future, json!([]));
    let table = cli.run(&["audit", "list", "--workspace", workspace_id]);
    assert!(table.starts_with("TIME"), "{table}");
    assert_eq!(table.lines().count(), 9, "{table}");

    // What the commands printed once never reaches the log.
    let log = serde_json::to_string(&all).expect("JSON");
    for secret in [
        &workspace["rootKey"],
        &root_key["rootKey"],
        &project["secret"],
        &access_key["secret"],
    ] {
        let secret = secret.as_str().expect("a secret");
        assert!(!log.contains(secret), "the audit log holds {secret}");
    }
}
