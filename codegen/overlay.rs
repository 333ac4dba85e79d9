//! keyward's deviations from an upstream spec live beside it, in an OpenAPI
//! Overlay 1.0 document (`specs/<name>.overlay.json`), so the upstream file
//! stays byte-identical to what its publisher released.

use enumset::EnumSet;
use roas_overlay::apply::{Apply, ApplyOptions};
use roas_overlay::v1_0::Overlay;
use roas_overlay::validation::{Validate, ValidationOptions};
use std::path::Path;

/// Applies the overlay at `path` to `spec`. Every action must carry a
/// `description` (the reason for the deviation) and must match something:
/// an action that a spec revision left without a target fails the build
/// instead of silently dropping the deviation.
pub fn apply(path: &Path, spec: &mut serde_json::Value) -> Result<(), String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {name}: {e}"))?;
    let overlay: Overlay =
        serde_json::from_str(&text).map_err(|e| format!("{name} is not an Overlay 1.0: {e}"))?;
    overlay
        .validate(EnumSet::<ValidationOptions>::empty())
        .map_err(|e| format!("{name}: {e}"))?;
    if let Some(index) = overlay
        .actions
        .iter()
        .position(|a| a.description.as_deref().is_none_or(str::is_empty))
    {
        return Err(format!(
            "{name}: action {index} has no description (the reason for it)"
        ));
    }
    overlay
        .apply(spec, ApplyOptions::ErrorOnZeroMatch.into())
        .map(|_| ())
        .map_err(|e| format!("{name}: {e}"))
}
