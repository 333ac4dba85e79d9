//! keyward's code generator, run by `build.rs`: every spec in `specs/` becomes
//! a module of types, a dropshot API trait, a registration function and a
//! progenitor client. See README.md, "Regenerating from a new spec".

pub mod openapi;
pub mod overlay;
pub mod rust;

use std::path::Path;

/// One generated file: its name (relative to `OUT_DIR` and `generated/`) and text.
pub struct GeneratedFile {
    pub name: String,
    pub contents: String,
}

/// Generates the code for every `*.openapi.json` in `spec_dir`, in file-name
/// order, after applying its `*.overlay.json` when there is one. The overlaid
/// document itself is one of the files: it is what the server serves.
pub fn generate(spec_dir: &Path) -> Result<Vec<GeneratedFile>, String> {
    let mut specs: Vec<_> = std::fs::read_dir(spec_dir)
        .map_err(|e| format!("reading {}: {e}", spec_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".openapi.json"))
        .collect();
    specs.sort();

    let mut files = Vec::new();
    let mut modules = Vec::new();
    for path in specs {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let names = openapi::ApiNames::from_file_name(&file_name)
            .ok_or_else(|| format!("{file_name}: cannot derive an API name"))?;
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("reading {file_name}: {e}"))?;
        let mut raw: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{file_name} is not JSON: {e}"))?;
        let overlay_path = path.with_file_name(file_name.replace(".openapi.json", ".overlay.json"));
        if overlay_path.exists() {
            overlay::apply(&overlay_path, &mut raw)?;
        }
        files.push(GeneratedFile {
            name: format!("{}.openapi.json", names.module),
            contents: serde_json::to_string_pretty(&raw)
                .map_err(|e| format!("{file_name}: {e}"))?
                + "\n",
        });
        let normalized = openapi::normalize(&raw).map_err(|e| format!("{file_name}: {e}"))?;
        files.push(GeneratedFile {
            name: format!("{}.rs", names.module),
            contents: rust::server_code(&names, &normalized)
                .map_err(|e| format!("{file_name}: {e}"))?,
        });
        files.push(GeneratedFile {
            name: format!("{}_client.rs", names.module),
            contents: rust::client_code(&normalized).map_err(|e| format!("{file_name}: {e}"))?,
        });
        modules.push(names.module);
    }
    files.push(GeneratedFile {
        name: "apis.rs".to_string(),
        contents: rust::index_code(&modules)?,
    });
    Ok(files)
}
