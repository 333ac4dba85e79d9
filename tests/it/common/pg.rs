//! A throwaway PostgreSQL cluster for the suite's PostgreSQL run
//! (tests/postgres.rs), or the server `KEYWARD_TEST_POSTGRES_URL` names.
//! Every test server gets a database of its own.
//!
//! The cluster is PostgreSQL's own `initdb` and `pg_ctl`, on a random port
//! with its socket in a temporary directory, with `fsync=off` (a test cluster
//! loses nothing that matters). PostgreSQL refuses to run as root, so as
//! root it runs as the `postgres` OS user. It stops when the test process
//! exits: a watcher process stops it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Cluster {
    /// `postgres://user@host:port`, without a database.
    base_url: String,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| match std::env::var("KEYWARD_TEST_POSTGRES_URL") {
        Ok(url) => Cluster {
            base_url: url.trim_end_matches('/').to_string(),
        },
        Err(_) => start_cluster(),
    })
}

/// A PostgreSQL program: on PATH, or where Debian's packages put it.
fn program(name: &str) -> PathBuf {
    let on_path = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(path) = on_path {
        return path;
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|version| version.path().join("bin").join(name))
        .filter(|path| path.exists())
        .collect();
    debian.sort();
    debian.pop().unwrap_or_else(|| {
        panic!("{name} not found: install PostgreSQL (Debian: apt-get install postgresql)")
    })
}

/// Runs a PostgreSQL program, as the `postgres` user when we are root.
fn run_as_postgres(program: &Path, args: &[&str]) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut command = if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    let output = command.args(args).output().expect("PostgreSQL runs");
    assert!(
        output.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn start_cluster() -> Cluster {
    let dir = std::env::temp_dir().join(format!("keyward-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cluster dir");
    let _ = Command::new("chown").arg("postgres").arg(&dir).status();
    let data = dir.join("data");
    let data_arg = data.display().to_string();
    run_as_postgres(
        &program("initdb"),
        &[
            "-D",
            &data_arg,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400",
        dir.display()
    );
    let log = dir.join("log").display().to_string();
    let pg_ctl = program("pg_ctl");
    run_as_postgres(
        &pg_ctl,
        &["-D", &data_arg, "-o", &options, "-l", &log, "-w", "start"],
    );
    // Stops the cluster once this test process is gone.
    let watcher = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; \
         runuser -u postgres -- {pg} -D {data_arg} -m immediate stop >/dev/null 2>&1 || \
         {pg} -D {data_arg} -m immediate stop >/dev/null 2>&1; rm -rf {}",
        std::process::id(),
        dir.display(),
        pg = pg_ctl.display(),
    );
    // `setsid -f` forks the watcher off and returns at once.
    let started = Command::new("setsid")
        .args(["-f", "sh", "-c", &watcher])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the cluster's watcher starts");
    assert!(started.success(), "the cluster's watcher starts");
    Cluster {
        base_url: format!("postgres://postgres@127.0.0.1:{port}"),
    }
}

/// A new, empty database; its URL.
pub fn new_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let cluster = cluster();
    let name = format!(
        "keyward_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let output = Command::new(program("psql"))
        .arg(format!("{}/postgres", cluster.base_url))
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "creating {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("{}/{name}", cluster.base_url)
}
