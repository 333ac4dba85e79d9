//! All of keyward's SQL lives behind [`Storage`]: handlers and the domain call
//! its methods and never see a query, a driver or a backend. Rows come up
//! typed.
//!
//! - This module is the interface: one trait per resource (a file each, with
//!   its row types), [`Backend`] for all of them, and [`Storage`], a cheap
//!   handle on the backend in use.
//! - [`sqlite`] is the embedded backend, [`postgres`] the one for several
//!   nodes; `--database-url` picks one by its scheme.

mod access_keys;
mod admin;
mod apis;
mod audit;
mod changes;
mod key_inserts;
mod keys;
mod limits;
mod postgres;
mod ratelimit_namespaces;
mod root_keys;
mod signing_key;
mod spends;
mod sqlite;
mod verifications;

pub use access_keys::{
    AccessKeyRow, AccessKeyStore, InsertAccessKey, NewAccessKey, RenameAccessKey,
};
pub use admin::{
    AdminStore, NewRole, NewRootKey, ProjectRow, Removal, RoleRow, RootKeyListRow, WorkspaceRow,
};
pub use apis::{ApiRow, ApiStore};
pub use audit::{AuditQuery, AuditRecord, AuditRow, AuditStore};
pub use changes::{Change, ChangeBatch, ChangeFeed, ChangeStore, SyncRequests};
pub use keys::{
    ImportKeys, InsertKey, KeyPage, KeyPatch, KeyRatelimit, KeyRow, KeyStore, NewKey,
    RatelimitKind, Refill, RefillBoundaries, RefillInterval, RemainingChange, Spend,
    VerifiableKeyRow,
};
pub use limits::{BucketRow, LimitStore, WindowCount};
pub use ratelimit_namespaces::NamespaceStore;
pub use root_keys::{RootKeyRow, RootKeyStore};
pub use signing_key::{SigningKeyRow, SigningKeyStore};
pub use verifications::{CountsDelta, DailyCounts, VerificationStore};

use std::sync::Arc;
use std::time::Duration;

/// A storage failure. Its message never contains a secret: no query binds
/// one in clear.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Conflict(String),
    /// A value that must be unique is taken.
    #[error("a unique value is taken: {0}")]
    Unique(String),
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

impl StorageError {
    /// Whether the error is a UNIQUE constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StorageError::Unique(_))
    }

    /// Whether retrying later is the right answer to this error.
    pub fn is_busy(&self) -> bool {
        matches!(self, StorageError::Busy)
    }
}

/// SQLite's primary result codes for a lock held elsewhere, BUSY and LOCKED
/// (the extended codes, such as BUSY_SNAPSHOT, share the low byte).
fn is_busy_code(code: &str) -> bool {
    code.parse::<i64>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

impl From<sqlx::Error> for StorageError {
    /// Every error the database driver returns passes here, and is counted
    /// in the metrics by kind.
    fn from(error: sqlx::Error) -> StorageError {
        let error = StorageError::of_driver(error);
        crate::metrics::STORAGE.database_errors.inc(&[error.kind()]);
        error
    }
}

impl StorageError {
    /// The error's kind, as the metrics count it.
    pub fn kind(&self) -> &'static str {
        match self {
            StorageError::Busy => "busy",
            StorageError::Unique(_) => "unique_violation",
            _ => "other",
        }
    }

    fn of_driver(error: sqlx::Error) -> StorageError {
        match &error {
            sqlx::Error::Database(e) if e.is_unique_violation() => {
                StorageError::Unique(e.message().to_string())
            }
            sqlx::Error::Database(e)
                if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                    && e.code().is_some_and(|code| is_busy_code(&code)) =>
            {
                StorageError::Busy
            }
            // PostgreSQL: lock_timeout passed (lock_not_available), or the
            // transaction lost a race it may win when retried.
            sqlx::Error::Database(e)
                if matches!(e.code().as_deref(), Some("55P03" | "40001" | "40P01")) =>
            {
                StorageError::Busy
            }
            // Every connection of the pool stayed in use: retry later.
            sqlx::Error::PoolTimedOut => StorageError::Busy,
            _ => StorageError::Database(error.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StorageError {
    fn from(error: sqlx::migrate::MigrateError) -> StorageError {
        StorageError::Migration(error.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A database: every resource's store.
#[async_trait::async_trait]
pub trait Backend:
    KeyStore
    + ApiStore
    + AccessKeyStore
    + AdminStore
    + RootKeyStore
    + NamespaceStore
    + VerificationStore
    + ChangeStore
    + SigningKeyStore
    + AuditStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Flushes and closes every connection.
    async fn close(&self);

    /// A warning for the operator when the database can be read by others:
    /// it holds the token signing key.
    fn permission_warning(&self) -> Option<&str>;

    /// Where rate limits that must agree across nodes are kept, for a
    /// backend that several nodes share; `None` keeps every limit in each
    /// process's memory.
    fn shared_limits(&self) -> Option<&dyn LimitStore>;
}

/// The database keyward runs on; clones share it. Its methods are the
/// resource traits' (through `Deref`).
#[derive(Clone, Debug)]
pub struct Storage(Arc<dyn Backend>);

impl Storage {
    /// Opens (creating if missing) the database at `url` and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Storage> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Storage(Arc::new(postgres::PgStorage::open(url).await?)));
        }
        Ok(Storage(Arc::new(sqlite::SqliteStorage::open(url).await?)))
    }

    /// For unit tests: a new SQLite database in a temporary directory,
    /// which lives as long as the directory returned with it.
    #[cfg(test)]
    pub async fn scratch() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("scratch.db").display());
        let storage = Storage::open(&url).await.expect("storage");
        (dir, storage)
    }
}

impl std::ops::Deref for Storage {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
