//! All of keyward's SQL lives behind [`Storage`]: handlers and the domain call
//! its methods and never see a query. One file per resource. A Postgres
//! backend would be a second implementation of these methods.

mod access_keys;
mod admin;
mod apis;
mod key_lookup;
mod keys;
mod ratelimit_namespaces;
mod root_keys;
mod spends;
mod verifications;

pub use access_keys::{AccessKeyRow, AccessKeyWrite, NewAccessKey};
pub use admin::NewRootKey;
pub use apis::ApiRow;
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
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
    /// The verify path's key lookup failed (see `key_lookup`).
    #[error("database error: {0}")]
    Lookup(#[from] rusqlite::Error),
    /// Storage could not do the work, e.g. a group commit failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl StorageError {
    /// Whether the error is a UNIQUE constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StorageError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
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
            .busy_timeout(Duration::from_secs(5));
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
        })
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
