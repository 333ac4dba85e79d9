//! `generated/` is a committed copy of what build.rs writes to `OUT_DIR`, so
//! that a spec change (or an overlay change) shows up as a reviewable diff.

use std::collections::BTreeSet;
use std::path::Path;

const REFRESH: &str = "KEYWARD_UPDATE_GENERATED=1 cargo test --test it generated";

/// The generated files: Rust code, and the overlaid specs it was built from.
fn generated_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".rs") || name.ends_with(".openapi.json"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn generated_code_is_committed_and_fresh() {
    let out_dir = Path::new(env!("OUT_DIR"));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    let update = std::env::var_os("KEYWARD_UPDATE_GENERATED").is_some();

    let fresh = generated_files(out_dir);
    assert!(
        fresh.contains("apis.rs"),
        "build.rs wrote nothing to {}",
        out_dir.display()
    );
    let mut stale = Vec::new();
    for name in &fresh {
        let text = std::fs::read_to_string(out_dir.join(name)).expect("generated file");
        if std::fs::read_to_string(committed.join(name))
            .ok()
            .as_deref()
            != Some(text.as_str())
        {
            stale.push(name.clone());
            if update {
                std::fs::create_dir_all(&committed).expect("generated/");
                std::fs::write(committed.join(name), text).expect("writing generated/");
            }
        }
    }
    for name in generated_files(&committed).difference(&fresh) {
        stale.push(format!("{name} (no longer generated)"));
        if update {
            std::fs::remove_file(committed.join(name)).expect("removing from generated/");
        }
    }
    if !update {
        assert!(
            stale.is_empty(),
            "generated/ is stale: {stale:?}\nRefresh it with:\n    {REFRESH}"
        );
    }
}
