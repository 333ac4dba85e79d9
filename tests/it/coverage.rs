//! Which documented (operation, status) pairs the suite produces and checks.
//! The evidence is the reviewed snapshots: each records the operation that
//! answered and its status. A pair that cannot be produced is listed, with
//! the reason, in `tests/it/coverage-exceptions.txt`.

use crate::common::spec::documented_pairs;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// (operation, status) of every snapshot.
fn snapshotted_pairs() -> BTreeSet<(String, u16)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let mut pairs = BTreeSet::new();
    for entry in std::fs::read_dir(dir)
        .expect("snapshots/")
        .filter_map(Result::ok)
    {
        let text = std::fs::read_to_string(entry.path()).expect("snapshot");
        // Front matter, then the JSON of TestResponse::snapshot.
        let Some(json) = text.splitn(3, "---\n").nth(2) else {
            continue;
        };
        let Ok(snapshot) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        if let (Some(operation), Some(status)) =
            (snapshot["operation"].as_str(), snapshot["status"].as_u64())
        {
            pairs.insert((operation.to_string(), status as u16));
        }
    }
    pairs
}

/// `<operation or api *> <status>: <reason>` lines; `#` starts a comment.
fn exceptions() -> Vec<(String, u16, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/coverage-exceptions.txt");
    std::fs::read_to_string(path)
        .expect("coverage-exceptions.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (pair, reason) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("no reason: {line}"));
            let (operation, status) = pair
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("no status: {line}"));
            (
                operation.to_string(),
                status
                    .parse()
                    .unwrap_or_else(|_| panic!("bad status: {line}")),
                reason.to_string(),
            )
        })
        .collect()
}

fn explains(pattern: &str, operation: &str) -> bool {
    match pattern.strip_suffix(" *") {
        Some(api) => operation.starts_with(&format!("{api} ")),
        None => pattern == operation,
    }
}

#[test]
fn every_documented_status_is_covered_or_explained() {
    let covered = snapshotted_pairs();
    let exceptions = exceptions();
    let mut table: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut wrongly_explained = Vec::new();
    for (operation, status) in documented_pairs() {
        let is_covered = covered.contains(&(operation.clone(), status));
        let explained = exceptions
            .iter()
            .find(|(p, s, _)| *s == status && explains(p, &operation));
        // A wildcard explains the operations of its API that cannot answer
        // so; one that can, and is covered, is no contradiction.
        let explained = explained.filter(|(p, _, _)| !(is_covered && p.ends_with(" *")));
        let mark = match (is_covered, explained) {
            (true, None) => format!("{status} ✓"),
            (true, Some((p, _, _))) => {
                wrongly_explained.push(format!("{operation} {status} (listed as {p})"));
                format!("{status} ✓!")
            }
            (false, Some(_)) => format!("{status} –"),
            (false, None) => {
                missing.push(format!("{operation} {status}"));
                format!("{status} ✗")
            }
        };
        table.entry(operation).or_default().push(mark);
    }
    println!("coverage (✓ snapshot, – explained in coverage-exceptions.txt, ✗ neither):");
    for (operation, marks) in &table {
        println!("  {operation:<45} {}", marks.join("  "));
    }
    assert!(
        missing.is_empty(),
        "documented but neither covered nor explained:\n  {}",
        missing.join("\n  ")
    );
    assert!(
        wrongly_explained.is_empty(),
        "explained as impossible, yet covered; remove them from coverage-exceptions.txt:\n  {}",
        wrongly_explained.join("\n  ")
    );
}
