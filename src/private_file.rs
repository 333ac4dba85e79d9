//! Files that hold secrets (the SQLite database, a token signing key file):
//! created readable and writable by their owner only, and a warning when an
//! existing one is open to others. One helper for both.

use std::fs::File;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What [`open_private`] found.
pub enum PrivateFile {
    /// Created now, with mode 0600, empty and open for writing.
    Created(File),
    /// It existed; `warning` when others may read it.
    Existing { warning: Option<String> },
}

/// Creates `path` with mode 0600, or checks the mode of the file already
/// there. `holds` says what it holds, for the warning.
pub fn open_private(path: &Path, holds: &str) -> std::io::Result<PrivateFile> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => Ok(PrivateFile::Created(file)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(PrivateFile::Existing {
            warning: mode_warning(path, holds)?,
        }),
        Err(e) => Err(e),
    }
}

/// A warning when others may read the file at `path`, which holds `holds`.
pub fn mode_warning(path: &Path, holds: &str) -> std::io::Result<Option<String>> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then(|| {
        format!(
            "{} has mode {mode:o}: other users can read {holds}; run chmod 600 on it",
            path.display()
        )
    }))
}
