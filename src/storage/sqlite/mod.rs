//! The SQLite backend: sqlx with one writer connection (writes queue in
//! order instead of retrying a busy lock), group commit for key spends,
//! checkpoints on their own connection (`checkpoints.rs`), and the verify
//! path's key lookup through rusqlite on the calling thread
//! (`key_lookup.rs`).

mod access_keys;
mod admin;
mod apis;
mod audit;
mod changes;
mod checkpoints;
mod key_lookup;
mod keys;
mod page_cache;
mod ratelimit_namespaces;
mod root_keys;
mod signing_key;
mod spends;
mod verifications;
mod wal_index;
mod writer;

use super::{BUSY_TIMEOUT, Backend, Result, StorageError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> StorageError {
        match &error {
            rusqlite::Error::SqliteFailure(e, _) if matches!(e.extended_code & 0xff, 5 | 6) => {
                StorageError::Busy
            }
            _ => StorageError::Database(error.to_string()),
        }
    }
}

/// Embedded migrations, run at every start.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite allows one writer at a time. Writes take one connection in turn
/// (`writer.rs`), so they queue in order instead of retrying on a busy lock
/// (whose backoff sleeps); reads use their own connections, which WAL lets
/// run beside the writer.
#[derive(Debug)]
pub struct SqliteStorage {
    pool: SqlitePool,
    writer: std::sync::Arc<writer::Writer>,
    checkpointer: std::sync::Arc<checkpoints::Checkpointer>,
    spends: crate::storage::spends::SpendQueue,
    key_inserts: crate::storage::key_inserts::KeyInsertQueue,
    key_lookup: std::sync::Arc<key_lookup::KeyLookup>,
    /// Set when the database file is readable by others than its owner.
    permission_warning: Option<std::sync::Arc<str>>,
}

impl SqliteStorage {
    /// Opens (creating if missing) the SQLite database at `url` and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<SqliteStorage> {
        // Before SQLite's first use, which fixes its page cache for good.
        page_cache::install();
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A success is reported only once its write is durable.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let permission_warning = protect_database_file(options.get_filename())
            .map_err(|e| StorageError::Unavailable(format!("creating the database file: {e}")))?;
        let writer = writer::Writer::open(
            &options
                .clone()
                // 32 MiB of page cache (2 MiB is SQLite's default): the
                // writer updates counters all over the counts table.
                .pragma("cache_size", "-32768")
                // Statement journals (the pages a statement inside a
                // transaction changes, kept to undo it alone) stay in
                // memory: past 64 KiB SQLite writes them to a temporary
                // file, and a group of new keys passes that at every commit
                // (`subjournalPageIfRequired`: 7.8% of the server's CPU
                // under createKey load, 4.7% of it in `pwrite`).
                .pragma("temp_store", "memory")
                // Commits leave checkpoints to the checkpointer below,
                // which starts the log over past 4,000 pages, unless the
                // log passes 20,000: a backstop, for when something (a
                // long read) keeps the checkpointer from starting it over.
                .pragma("wal_autocheckpoint", "20000"),
        )
        .await?;
        MIGRATOR.run(&mut *writer.lock().await?).await?;
        let writer = std::sync::Arc::new(writer);
        // Checkpoints (copying the write-ahead log into the database file,
        // and its fsync) run on their own connection, beside the writer: by
        // default the commit that crosses 1,000 pages runs one, and every
        // write queued behind it waits.
        let checkpointer =
            std::sync::Arc::new(checkpoints::Checkpointer::open(options.get_filename())?);
        tokio::spawn(checkpoints::run(
            std::sync::Arc::clone(&checkpointer),
            std::sync::Arc::clone(&writer),
        ));
        // No ping before each acquire: an embedded connection does not go
        // stale, and the ping is a second round trip to the connection's
        // worker thread on every query.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone().read_only(true))
            .await?;
        let spends =
            crate::storage::spends::SpendQueue::start(std::sync::Arc::new(spends::SqliteSpender {
                writer: std::sync::Arc::clone(&writer),
            }));
        let key_inserts = crate::storage::key_inserts::KeyInsertQueue::start(std::sync::Arc::new(
            keys::SqliteInserter {
                writer: std::sync::Arc::clone(&writer),
            },
        ));
        let key_lookup = key_lookup::KeyLookup::open(options.get_filename().to_path_buf())?;
        Ok(SqliteStorage {
            pool,
            writer,
            checkpointer,
            spends,
            key_inserts,
            key_lookup: std::sync::Arc::new(key_lookup),
            permission_warning: permission_warning.map(Into::into),
        })
    }
}

#[async_trait::async_trait]
impl Backend for SqliteStorage {
    async fn close(&self) {
        // The writer closes last: the last connection to a database folds
        // the write-ahead log back into it.
        self.key_lookup.close();
        self.pool.close().await;
        self.checkpointer.close();
        self.writer.close().await;
    }

    fn permission_warning(&self) -> Option<&str> {
        self.permission_warning.as_deref()
    }

    /// One node per SQLite file: limits stay in memory (per process).
    fn shared_limits(&self) -> Option<&dyn crate::storage::LimitStore> {
        None
    }
}

/// For tests: a plain connection to `path`, opened after the page cache is
/// installed. A process's first use of SQLite fixes its page cache, and the
/// unit tests share one process.
#[cfg(test)]
fn test_connection(path: &std::path::Path) -> rusqlite::Connection {
    page_cache::install();
    rusqlite::Connection::open(path).expect("open")
}

/// Creates the database file readable and writable by its owner only
/// (SQLite gives its `-wal` and `-shm` files the same mode), or, for a file
/// that exists, returns a warning when others may read it.
fn protect_database_file(path: &std::path::Path) -> std::io::Result<Option<String>> {
    use crate::private_file::{PrivateFile, open_private};
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") {
        return Ok(None);
    }
    let holds = "key hashes and the token signing key (and its -wal and -shm files)";
    Ok(match open_private(path, holds)? {
        PrivateFile::Created(_) => None,
        PrivateFile::Existing { warning } => warning,
    })
}
