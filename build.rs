//! Generates the API types, dropshot traits and test clients from `specs/`
//! into `OUT_DIR`. `generated/` holds a committed copy; `tests/generated.rs`
//! fails when it is stale.

#[path = "codegen/mod.rs"]
mod codegen;

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=specs");
    println!("cargo:rerun-if-changed=codegen");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let files = match codegen::generate(std::path::Path::new("specs")) {
        Ok(files) => files,
        Err(e) => panic!("code generation failed: {e}"),
    };
    for file in files {
        let path = out_dir.join(&file.name);
        // Rewrite only on change, so unchanged specs do not force a rebuild.
        if std::fs::read_to_string(&path).ok().as_deref() != Some(file.contents.as_str()) {
            std::fs::write(&path, file.contents)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
    }
}
