//! The one connection that writes.

use crate::storage::{Result, StorageError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

/// SQLite allows one writer at a time. Writes take this connection in turn
/// (the mutex is fair: first come, first served) instead of retrying on a
/// busy lock, whose backoff sleeps.
///
/// A mutex rather than sqlx's pool of one connection: the pool hands a
/// connection back through a spawned task that first pings the
/// connection's thread, and the next write waits for both. Under createKey
/// load that was about 350 µs of every group commit's 4 ms. A write dropped
/// halfway leaves nothing behind: sqlx queues the rollback of a dropped
/// transaction on the connection, ahead of the next write.
#[derive(Debug)]
pub(super) struct Writer {
    connection: Mutex<Option<SqliteConnection>>,
}

/// The writer, held until dropped.
pub(super) type WriterGuard<'a> = MappedMutexGuard<'a, SqliteConnection>;

impl Writer {
    pub(super) async fn open(options: &SqliteConnectOptions) -> Result<Writer> {
        Ok(Writer {
            connection: Mutex::new(Some(options.connect().await?)),
        })
    }

    /// The connection, once every write queued before this one is done.
    pub(super) async fn lock(&self) -> Result<WriterGuard<'_>> {
        MutexGuard::try_map(self.connection.lock().await, Option::as_mut)
            .map_err(|_| StorageError::Unavailable("storage is closed".into()))
    }

    /// Closes the connection after the writes queued before this call.
    pub(super) async fn close(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            let _ = connection.close().await;
        }
    }
}
