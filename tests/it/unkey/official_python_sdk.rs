//! Unkey's official Python SDK, `unkey.py` 0.10.0 (the last release for
//! v1), calls every operation it shares with keyward
//! (`official_python_sdk.py`). Skipped, with the reason printed, where
//! python3 cannot make a virtualenv; under CI it fails instead.

use crate::common::{ROOT_KEY, TestServer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn here(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/unkey")
        .join(file)
}

fn python_can_make_a_venv() -> bool {
    Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A virtualenv with the pinned SDK, made once per target directory.
fn sdk_python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("unkey-python-sdk");
    let python = venv.join("bin/python");
    let requirements = here("official_python_sdk.requirements.txt");
    let stamp = venv.join("installed.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let made = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(made.success(), "python3 -m venv failed");
        let installed = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements)
            .status()
            .expect("pip runs");
        assert!(
            installed.success(),
            "pip install -r {}",
            requirements.display()
        );
        std::fs::write(&stamp, wanted).expect("stamp");
    }
    python
}

#[tokio::test]
async fn the_official_python_sdk_calls_every_shared_operation() {
    if !python_can_make_a_venv() {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with venv is required in CI: .ci/run installs it"
        );
        println!("skipped: python3 cannot make a virtualenv, so unkey.py cannot run");
        return;
    }
    let python = tokio::task::spawn_blocking(sdk_python)
        .await
        .expect("pip install");
    let server = TestServer::start().await;
    let script = here("official_python_sdk.py");
    let url = server.base_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("KEYWARD_URL", url)
            .env("ROOT_KEY", ROOT_KEY)
            .output()
            .expect("python runs")
    })
    .await
    .expect("the SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "unkey.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("all operations passed"));
    server.shutdown().await;
}
