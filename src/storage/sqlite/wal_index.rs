//! The commit mark: a value that changes whenever any connection, of this
//! process or another, commits to the database. An unknown key compares it
//! with the change feed's last read to skip a sync round (see
//! `SyncRequests`), so it is asked once per unknown key and must be cheap.
//!
//! It is read from the WAL-index header in the `-shm` file, which every
//! connection maps and every commit rewrites, incrementing its `iChange`
//! counter (<https://www.sqlite.org/walformat.html>, "The WAL-Index
//! Header"). That is a few loads from shared memory. `PRAGMA data_version`
//! gives the same answer through a read transaction, whose shared lock on
//! the database file costs an `fcntl`: in the unknown-key profile it was
//! about a sixth of the server's samples.

use rusqlite::{Connection, ffi};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering, fence};

/// The header's two copies, 48 bytes each, at the start of the file.
const HEADER_WORDS: usize = 12;
/// `iVersion`, the header's first word, in every SQLite since 3.7.0.
const WAL_INDEX_VERSION: u32 = 3_007_000;
/// The size of a WAL-index region, which every caller of `xShmMap` passes.
const REGION_BYTES: i32 = 32 * 1024;
/// Reads that may find a commit writing the header before one gives up.
const TRIES: usize = 8;

/// The WAL-index header of a database, as SQLite itself maps it for a
/// connection kept open for the purpose.
///
/// The mapping is SQLite's own (the VFS's `xShmMap`), not one of ours:
/// opening the `-shm` file again and closing it would drop every POSIX lock
/// this process holds on it, SQLite's included.
pub(super) struct WalIndex {
    header: NonNull<AtomicU32>,
    /// The connection whose mapping `header` points into. SQLite unmaps
    /// the WAL index when its last connection in the process closes, and
    /// truncates or deletes the file when the last one anywhere does; this
    /// one stays open for as long as `header` is read. (The mutex only
    /// makes it `Sync`; it is never used.)
    _pin: std::sync::Mutex<Connection>,
}

// SAFETY: `header` points into shared memory that lives as long as `_pin`,
// and is only ever read through atomics.
unsafe impl Send for WalIndex {}
unsafe impl Sync for WalIndex {}

impl std::fmt::Debug for WalIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalIndex").finish_non_exhaustive()
    }
}

impl WalIndex {
    /// The header of the database that `pin` has open; `None` when it is
    /// not in WAL mode or its VFS has no shared memory.
    pub(super) fn open(pin: Connection) -> Option<WalIndex> {
        // Reading the journal mode opens the WAL index, if there is one.
        let mode: String = pin
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .ok()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return None;
        }
        let header = shared_memory_region(&pin)?.cast::<AtomicU32>();
        let index = WalIndex {
            header,
            _pin: std::sync::Mutex::new(pin),
        };
        index.commit_mark().map(|_| index)
    }

    /// A value that differs after every commit; `None` if the header could
    /// not be read whole (a commit kept writing it), which callers treat
    /// as "something may have been committed".
    pub(super) fn commit_mark(&self) -> Option<u64> {
        let words = self.words();
        for _ in 0..TRIES {
            // A commit writes the second copy, then the first; reading the
            // first, then the second, and finding them equal means neither
            // was half-written (SQLite's walIndexTryHdr does the same).
            let first: [u32; HEADER_WORDS] =
                std::array::from_fn(|i| words[i].load(Ordering::Acquire));
            fence(Ordering::Acquire);
            let second: [u32; HEADER_WORDS] =
                std::array::from_fn(|i| words[HEADER_WORDS + i].load(Ordering::Acquire));
            let initialised = first[3].to_ne_bytes()[0] == 1;
            if first == second && first[0] == WAL_INDEX_VERSION && initialised {
                // Every field, not only `iChange`: a WAL restart or a
                // recovery rewrites the salts and frame count as well.
                let mut hasher = DefaultHasher::new();
                first.hash(&mut hasher);
                return Some(hasher.finish());
            }
            std::hint::spin_loop();
        }
        None
    }

    fn words(&self) -> &[AtomicU32] {
        // SAFETY: a mapped region is REGION_BYTES long, page-aligned, and
        // stays mapped while `_pin` is open.
        unsafe { std::slice::from_raw_parts(self.header.as_ptr(), 2 * HEADER_WORDS) }
    }
}

/// The first region of the WAL index that `connection` has open, through
/// its VFS (<https://www.sqlite.org/c3ref/io_methods.html>).
fn shared_memory_region(connection: &Connection) -> Option<NonNull<u8>> {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: the handle is open; FILE_POINTER writes the main database's
    // `sqlite3_file` into `file`, owned by the connection.
    let found = unsafe {
        ffi::sqlite3_file_control(
            connection.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&raw mut file).cast(),
        )
    };
    if found != ffi::SQLITE_OK || file.is_null() {
        return None;
    }
    // SAFETY: `file` is the connection's open file; a VFS of version 2 or
    // later has the shared-memory methods. With `bExtend` 0, `xShmMap`
    // only returns a region that exists (the read above made it).
    unsafe {
        let methods = (*file).pMethods;
        if methods.is_null() || (*methods).iVersion < 2 {
            return None;
        }
        let map = (*methods).xShmMap?;
        let mut region: *mut std::ffi::c_void = std::ptr::null_mut();
        if map(file, 0, REGION_BYTES, 0, &raw mut region) != ffi::SQLITE_OK {
            return None;
        }
        NonNull::new(region.cast())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::test_connection;

    #[test]
    fn the_commit_mark_moves_with_commits_and_only_with_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("marks.db");
        let writer = test_connection(&path);
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .expect("schema");
        let index = WalIndex::open(test_connection(&path)).expect("mapped");
        let before = index.commit_mark().expect("mark");

        let reader = test_connection(&path);
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .expect("read");
        drop(reader);
        assert_eq!(index.commit_mark(), Some(before), "a read is no commit");

        writer
            .execute("INSERT INTO t VALUES (1)", [])
            .expect("insert");
        let after = index.commit_mark().expect("mark");
        assert_ne!(after, before);
        writer
            .execute("INSERT INTO t VALUES (2)", [])
            .expect("insert");
        assert_ne!(index.commit_mark(), Some(after));
    }

    #[test]
    fn a_database_not_in_wal_mode_has_no_mark() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rollback.db");
        test_connection(&path)
            .execute_batch("CREATE TABLE t (x INTEGER);")
            .expect("schema");
        assert!(WalIndex::open(test_connection(&path)).is_none());
    }
}
