//! The verify path's one read: a live key by the hash of its secret, on a
//! cache miss. It runs on the calling thread through rusqlite rather than
//! through sqlx. sqlx's SQLite driver hands every query to the connection's
//! worker thread and back, and under load those two thread switches cost
//! several times the lookup itself (issue 6: a profile of verifies over
//! 1,000,000 random keys spent about 30% in context switches). The lookup is
//! one indexed read of pages the OS has cached, about as short as the CPU
//! work around it; everything else stays on sqlx.

use super::wal_index::WalIndex;
use crate::storage::{Result, VerifiableKeyRow};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

/// Idle connections kept for reuse; more are opened when needed.
const IDLE_CONNECTIONS: usize = 4;

/// What verification reads of a key, from `keys k`: the columns that
/// [`verifiable_key`] maps.
macro_rules! verifiable_columns {
    () => {
        "SELECT k.id, k.workspace_id, k.api_id, k.name, k.owner_id, k.meta, k.environment,
           k.enabled, k.expires_at, k.remaining IS NOT NULL, k.ratelimit_type, k.ratelimit_limit,
           k.ratelimit_refill_rate, k.ratelimit_refill_interval,
           (SELECT json_group_array(name) FROM (
               SELECT p.name FROM key_permissions kp JOIN permissions p ON p.id = kp.permission_id
                WHERE kp.key_id = k.id
               UNION
               SELECT p.name FROM key_roles kr
                 JOIN role_permissions rp ON rp.role_id = kr.role_id
                 JOIN permissions p ON p.id = rp.permission_id
                WHERE kr.key_id = k.id))"
    };
}

const FIND_BY_HASH: &str = concat!(
    verifiable_columns!(),
    " FROM keys k WHERE k.hash = ?1 AND k.deleted_at IS NULL"
);

/// A page of live keys in hash order, for the key index; the hash last.
const LIVE_KEYS_AFTER: &str = concat!(
    verifiable_columns!(),
    ", k.hash FROM keys k WHERE k.hash > ?1 AND k.deleted_at IS NULL ORDER BY k.hash LIMIT ?2"
);

/// Read-only rusqlite connections to the database file, reused.
#[derive(Debug)]
pub(super) struct KeyLookup {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Where the commit mark is read; `None` when the database has no WAL
    /// index to map, or once storage is closed.
    wal_index: RwLock<Option<WalIndex>>,
}

impl KeyLookup {
    /// Lookups on the database at `path`, which must exist (sqlx has
    /// created and migrated it).
    pub(super) fn open(path: PathBuf) -> Result<KeyLookup> {
        let wal_index = RwLock::new(WalIndex::open(connect(&path)?));
        let lookup = KeyLookup {
            path,
            idle: Mutex::new(Vec::new()),
            wal_index,
        };
        // Fail at start, not on the first verify, if the file cannot be read.
        let connection = lookup.connect()?;
        connection.prepare_cached(FIND_BY_HASH)?;
        connection.prepare_cached(LIVE_KEYS_AFTER)?;
        lookup.put_back(connection);
        Ok(lookup)
    }

    pub(super) fn find_by_hash(&self, hash: &[u8]) -> Result<Option<VerifiableKeyRow>> {
        self.with_connection(|connection| {
            connection
                .prepare_cached(FIND_BY_HASH)?
                .query_row([hash], verifiable_key)
                .optional()
        })
    }

    /// Up to `limit` live keys whose hash sorts after `after`, in hash
    /// order, each with its hash. A blocking read: call it off the runtime.
    pub(super) fn live_keys_after(
        &self,
        after: &[u8],
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, VerifiableKeyRow)>> {
        self.with_connection(|connection| {
            connection
                .prepare_cached(LIVE_KEYS_AFTER)?
                .query_map(rusqlite::params![after, limit], |row| {
                    Ok((row.get(15)?, verifiable_key(row)?))
                })?
                .collect()
        })
    }

    fn with_connection<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let connection = match self.idle.lock().map(|mut idle| idle.pop()) {
            Ok(Some(connection)) => connection,
            _ => self.connect()?,
        };
        let read = read(&connection);
        self.put_back(connection);
        Ok(read?)
    }

    /// Closes the idle connections and unmaps the WAL index; a lookup
    /// after this opens a new one.
    pub(super) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        if let Ok(mut wal_index) = self.wal_index.write() {
            *wal_index = None;
        }
    }

    /// A value that changes whenever a commit lands on the database, by
    /// any connection; `None` when it cannot be known.
    pub(super) fn commit_mark(&self) -> Option<u64> {
        self.wal_index.read().ok()?.as_ref()?.commit_mark()
    }

    fn connect(&self) -> Result<Connection> {
        connect(&self.path)
    }

    fn put_back(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_CONNECTIONS
        {
            idle.push(connection);
        }
    }
}

fn connect(path: &std::path::Path) -> Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(super::BUSY_TIMEOUT)?;
    // 16 MiB of page cache (SQLite's default is 2 MiB), enough to keep
    // the inner pages of the keys table and its hash index: a lookup then
    // reads only leaf pages.
    connection.execute_batch("PRAGMA cache_size = -16384")?;
    Ok(connection)
}

fn verifiable_key(row: &rusqlite::Row<'_>) -> rusqlite::Result<VerifiableKeyRow> {
    Ok(VerifiableKeyRow {
        id: row.get(0)?,
        workspace_id: row.get(1)?,
        api_id: row.get(2)?,
        name: row.get(3)?,
        owner_id: row.get(4)?,
        meta: row.get(5)?,
        environment: row.get(6)?,
        enabled: row.get(7)?,
        expires_at: row.get(8)?,
        limited: row.get(9)?,
        ratelimit: crate::storage::keys::ratelimit_of(
            row.get::<_, Option<String>>(10)?.as_deref(),
            row.get(11)?,
            row.get(12)?,
            row.get(13)?,
        ),
        effective_permissions: crate::storage::keys::names(&row.get::<_, String>(14)?),
    })
}
