//! `keyward serve` as a process of its own, for what an in-process server
//! cannot show: signals, kill -9, restarts on the same database, open-file
//! limits and the logs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

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

    /// What it wrote to stderr so far, one string.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
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
