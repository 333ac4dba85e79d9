//! `keyward serve` as a process of its own, for what an in-process server
//! cannot show: signals, kill -9, restarts on the same database, open-file
//! limits and the logs.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A database for processes to share: a SQLite file in a temporary
/// directory, or on the PostgreSQL run, a database of the test cluster.
pub struct Database {
    pub dir: tempfile::TempDir,
    url: String,
}

impl Database {
    pub fn new() -> Database {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = super::fresh_database_url(dir.path());
        Database { dir, url }
    }

    /// The SQLite file (on the SQLite run).
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("keyward.db")
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }
}

/// A `keyward serve` process on a database of the test's.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// Every line it wrote to stderr so far.
    stderr: Arc<Mutex<Vec<String>>>,
}

/// The address in `serve`'s "listening" line.
pub fn listening_url(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("keyward: serving the Unkey and Sinch APIs on ")
}

/// The `keyward` binary with the test credentials for a first start.
pub fn keyward(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .env("KEYWARD_DATABASE_URL", database_url)
        .env("KEYWARD_BOOTSTRAP_ROOT_KEY", super::ROOT_KEY)
        .env(
            "KEYWARD_BOOTSTRAP_ACCESS_KEY",
            format!("{}:{}", super::ACCESS_KEY_ID, super::ACCESS_KEY_SECRET),
        );
    command
}

impl ServeProcess {
    /// Starts `keyward serve` on a random port with `args`, and waits until
    /// it listens.
    pub fn start(database_url: &str, args: &[&str]) -> ServeProcess {
        let mut command = keyward(database_url);
        command.args(["serve", "--bind", "127.0.0.1:0", "--log-level", "warn"]);
        command.args(args);
        ServeProcess::spawn(command)
    }

    /// Like [`ServeProcess::start`], with the open-file limit (soft and hard)
    /// set to `files` for the process.
    pub fn start_with_file_limit(database_url: &str, files: u64, args: &[&str]) -> ServeProcess {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$@\""))
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_keyward"))
            .args(["serve", "--bind", "127.0.0.1:0", "--log-level", "warn"])
            .args(args)
            .envs(
                keyward(database_url)
                    .get_envs()
                    .filter_map(|(k, v)| Some((k, v?))),
            );
        ServeProcess::spawn(command)
    }

    /// Runs `command` (a `keyward serve`) and reads its stderr until it
    /// says where it listens; the lines go on being collected.
    pub fn spawn(mut command: Command) -> ServeProcess {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keyward serve starts");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (address, listening) = mpsc::channel();
        let collected = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(url) = listening_url(&line) {
                    let _ = address.send(url.to_string());
                }
                collected.lock().expect("lines").push(line);
            }
        });
        let base_url = listening
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "serve did not start listening: {:?}",
                    lines.lock().expect("lines")
                )
            });
        ServeProcess {
            child,
            base_url,
            stderr: lines,
        }
    }

    /// Runs `command` (a `keyward serve`) without waiting for it to listen,
    /// for a test that probes it while it starts.
    pub fn spawn_unwaited(mut command: Command) -> ServeProcess {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("keyward serve starts");
        ServeProcess {
            child,
            base_url: String::new(),
            stderr: Arc::default(),
        }
    }

    /// What it wrote to stderr so far, one string.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// Waits up to `limit` for the process to exit; its exit status and how
    /// long it took, or `None` (and the process killed) if it did not.
    pub fn wait_exit(mut self, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A JSON POST (with the root key, when asked); `Err` when no answer came.
pub async fn post(
    http: &reqwest::Client,
    base_url: &str,
    path: &str,
    body: &Value,
    root_key: bool,
) -> reqwest::Result<(u16, Value)> {
    let mut request = http.post(format!("{base_url}{path}")).json(body);
    if root_key {
        request = request.bearer_auth(super::ROOT_KEY);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// A GET with the root key; its JSON body.
pub async fn get_json(http: &reqwest::Client, base_url: &str, path_and_query: &str) -> Value {
    http.get(format!("{base_url}{path_and_query}"))
        .bearer_auth(super::ROOT_KEY)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON")
}

pub async fn create_api(http: &reqwest::Client, base_url: &str) -> String {
    let (status, body) = post(
        http,
        base_url,
        "/v1/apis.createApi",
        &json!({"name": "faults"}),
        true,
    )
    .await
    .expect("createApi");
    assert_eq!(status, 200, "{body}");
    body["apiId"].as_str().expect("apiId").to_string()
}

/// How soon a change made through one process reaches the others
/// (notes/unkey-v1.md A.22).
pub const BOUND: Duration = Duration::from_millis(100);

/// Polls `observe` every 5 ms until it returns `expected`; how long that
/// took. Fails past one second.
pub async fn seen_within<F, Fut>(what: &str, expected: Value, observe: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = Value>,
{
    let started = Instant::now();
    loop {
        let observed = observe().await;
        if observed == expected {
            let took = started.elapsed();
            println!("{what}: seen by the other process after {took:?}");
            return took;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what}: still {observed} after 1 s, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What verifying `key` answers: `"VALID"`, the denial code, or the HTTP
/// status of an error.
pub async fn verify_code(http: &reqwest::Client, base_url: &str, key: &str) -> Value {
    match post(
        http,
        base_url,
        "/v1/keys.verifyKey",
        &json!({"key": key}),
        false,
    )
    .await
    {
        Ok((200, answer)) if answer["valid"] == json!(true) => json!("VALID"),
        Ok((200, answer)) => answer["code"].clone(),
        Ok((status, _)) => json!(status),
        Err(e) => json!(e.to_string()),
    }
}

/// The workspace of an api, through getApi.
pub async fn workspace_of(http: &reqwest::Client, base_url: &str, api_id: &str) -> String {
    let api = get_json(http, base_url, &format!("/v1/apis.getApi?apiId={api_id}")).await;
    api["workspaceId"]
        .as_str()
        .expect("workspaceId")
        .to_string()
}
