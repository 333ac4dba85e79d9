//! All of keyward's SQL lives behind [`Storage`]: handlers and the domain call
//! its methods and never see a query. One file per resource. A Postgres
//! backend would be a second implementation of these methods.

mod access_keys;
mod admin;
mod apis;
mod changes;
mod key_lookup;
mod keys;
mod ratelimit_namespaces;
mod root_keys;
mod spends;
mod verifications;

pub use access_keys::{AccessKeyRow, AccessKeyWrite, NewAccessKey};
pub use admin::{NewRootKey, ProjectRow, Removal, RoleRow, RootKeyListRow, WorkspaceRow};
pub use apis::ApiRow;
pub use changes::{Change, ChangeBatch};
pub use key_lookup::VerifiableKeyRow;
pub use keys::{
    InsertKey, KeyPage, KeyPatch, KeyRow, NewKey, Ratelimit, RefillBoundaries, RemainingChange,
    Spend,
};
pub use root_keys::RootKeyRow;
pub use verifications::{CountsDelta, DailyCounts};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// A storage failure. Its message never contains a secret: no query binds
/// one in clear.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
    /// The verify path's key lookup failed (see `key_lookup`).
    #[error("database error: {0}")]
    Lookup(rusqlite::Error),
    /// Storage could not do the work, e.g. a group commit failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Another connection (often another process) held the write lock for
    /// longer than the busy timeout. Retrying later will likely succeed.
    #[error("the database is busy: another writer held it for more than {} s", BUSY_TIMEOUT.as_secs())]
    Busy,
}

/// How long a statement waits for another writer before it gives up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's primary result codes for a lock held elsewhere: BUSY and
/// LOCKED (the extended codes, such as BUSY_SNAPSHOT, share the low byte).
fn is_busy_code(code: i64) -> bool {
    matches!(code & 0xff, 5 | 6)
}

impl StorageError {
    /// Sorts a driver error: a busy database is [`StorageError::Busy`].
    fn classify(self) -> StorageError {
        let busy = match &self {
            StorageError::Database(sqlx::Error::Database(e)) => e
                .code()
                .and_then(|code| code.parse::<i64>().ok())
                .is_some_and(is_busy_code),
            StorageError::Lookup(rusqlite::Error::SqliteFailure(e, _)) => {
                is_busy_code(i64::from(e.extended_code))
            }
            _ => false,
        };
        if busy { StorageError::Busy } else { self }
    }

    /// Whether retrying later is the right answer to this error.
    pub fn is_busy(&self) -> bool {
        matches!(self, StorageError::Busy)
    }

    /// Whether the error is a UNIQUE constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StorageError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> StorageError {
        StorageError::Database(error).classify()
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> StorageError {
        StorageError::Lookup(error).classify()
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Embedded migrations, run at every start.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// SQLite allows one writer at a time. Writes go through a pool of one
/// connection, so they queue in order instead of retrying on a busy lock
/// (whose backoff sleeps); reads use their own connections, which WAL lets
/// run beside the writer.
#[derive(Clone, Debug)]
pub struct Storage {
    pool: SqlitePool,
    writer: SqlitePool,
    checkpointer: SqlitePool,
    spends: spends::SpendQueue,
    key_lookup: std::sync::Arc<key_lookup::KeyLookup>,
    /// Set when the database file is readable by others than its owner.
    permission_warning: Option<std::sync::Arc<str>>,
}

impl Storage {
    /// Opens (creating if missing) the SQLite database at `url` and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Storage> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A success is reported only once its write is durable.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let permission_warning = protect_database_file(options.get_filename())
            .map_err(|e| StorageError::Unavailable(format!("creating the database file: {e}")))?;
        // No ping before each acquire: an embedded connection does not go
        // stale, and the ping is a second round trip to the connection's
        // worker thread on every query.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            // 32 MiB of page cache (2 MiB is SQLite's default): the writer
            // updates counters all over the counts table.
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", "-32768")
                    // Commits leave checkpoints to the checkpointer below,
                    // unless the log passes 10,000 pages: a backstop.
                    .pragma("wal_autocheckpoint", "10000"),
            )
            .await?;
        MIGRATOR.run(&writer).await?;
        // Checkpoints (copying the write-ahead log into the database file,
        // and its fsync) run on their own connection, beside the writer: by
        // default the commit that crosses 1,000 pages runs one, and every
        // write queued behind it waits.
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        tokio::spawn(checkpoint_periodically(checkpointer.clone()));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone().read_only(true))
            .await?;
        let spends = spends::SpendQueue::start(writer.clone());
        let key_lookup = key_lookup::KeyLookup::open(options.get_filename().to_path_buf())?;
        Ok(Storage {
            pool,
            writer,
            checkpointer,
            spends,
            key_lookup: std::sync::Arc::new(key_lookup),
            permission_warning: permission_warning.map(Into::into),
        })
    }

    /// A warning for the operator when the database file can be read by
    /// others: it holds the token signing key.
    pub fn permission_warning(&self) -> Option<&str> {
        self.permission_warning.as_deref()
    }

    /// Flushes and closes every connection.
    pub async fn close(&self) {
        // The writer closes last: the last connection to a database folds
        // the write-ahead log back into it.
        self.key_lookup.close();
        self.pool.close().await;
        self.checkpointer.close().await;
        self.writer.close().await;
    }
}

/// Creates the database file readable and writable by its owner only
/// (SQLite gives its `-wal` and `-shm` files the same mode), or, for a file
/// that exists, returns a warning when others may read it.
fn protect_database_file(path: &std::path::Path) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") {
        return Ok(None);
    }
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
            Ok((mode & 0o077 != 0).then(|| {
                format!(
                    "{} has mode {mode:o}: other users can read key hashes and the token signing key; \
                     run chmod 600 on it (and its -wal and -shm files)",
                    path.display()
                )
            }))
        }
        Err(e) => Err(e),
    }
}

/// Every second, a passive checkpoint: as much of the log as no reader
/// still needs, without waiting for anyone. Stops when storage closes.
async fn checkpoint_periodically(checkpointer: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !checkpointer.is_closed() {
        tick.tick().await;
        // A failed checkpoint is retried next time; the backstop remains.
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&checkpointer)
            .await;
    }
}
