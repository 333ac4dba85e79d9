//! Changes in PostgreSQL: the triggers of `migrations/postgres/` send a
//! NOTIFY on `keyward_changes` with each write; every node LISTENs.
//! PostgreSQL delivers a notification only after its transaction commits,
//! in commit order, to every session listening then. A node whose listening
//! connection drops misses what was sent meanwhile, so after a reconnect it
//! drops everything it cached.

use super::PgStorage;
use crate::storage::{
    ChangeBatch, ChangeFeed, ChangeStore, Result, StorageError, SyncRequests, changes::change_of,
};
use async_trait::async_trait;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

const CHANNEL: &str = "keyward_changes";

#[async_trait]
impl ChangeStore for PgStorage {
    async fn change_feed(&self) -> Result<Box<dyn ChangeFeed>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        let (sender, received) = mpsc::channel(RECEIVED_CAPACITY);
        let receiving = tokio::spawn(receive(listener, sender));
        Ok(Box::new(Notifications {
            pool: self.pool.clone(),
            received,
            receiving,
            marker: format!("{SYNC}:{:016x}:", rand::random::<u64>()),
        }))
    }

    /// Notifications are not kept: nothing to prune.
    async fn prune_changes(&self, _before_ms: i64) -> Result<u64> {
        Ok(0)
    }
}

/// The kind of a sync round's marker, which every node ignores but the
/// one that sent it.
const SYNC: &str = "sync";
/// Notifications received and not yet read, at most.
const RECEIVED_CAPACITY: usize = 4096;

/// What the listener received: a payload, or `None` when its connection
/// dropped (what was sent meanwhile is lost).
type Received = Result<Option<String>>;

/// Receives on its own task, so that reading the channel can be raced
/// against a sync request (a `PgListener` read is not cancel-safe).
async fn receive(mut listener: PgListener, sender: mpsc::Sender<Received>) {
    loop {
        let received = match listener.try_recv().await {
            Ok(notification) => Ok(notification.map(|n| n.payload().to_string())),
            Err(e) => Err(e.into()),
        };
        let failed = received.is_err();
        if sender.send(received).await.is_err() {
            return;
        }
        if failed {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

struct Notifications {
    pool: sqlx::PgPool,
    received: mpsc::Receiver<Received>,
    receiving: tokio::task::JoinHandle<()>,
    /// `sync:<this feed's random id>:`, and the round after it.
    marker: String,
}

impl Drop for Notifications {
    fn drop(&mut self) {
        self.receiving.abort();
    }
}

impl Notifications {
    /// Adds what was received to `batch`.
    fn take(&self, received: Option<Received>, batch: &mut ChangeBatch) -> Result<()> {
        match received {
            None => Err(StorageError::Unavailable(
                "the change listener stopped".into(),
            )),
            Some(Err(e)) => Err(e),
            Some(Ok(None)) => {
                batch.missed = true;
                Ok(())
            }
            Some(Ok(Some(payload))) => {
                let (kind, entity) = payload.split_once(':').unwrap_or((&payload, ""));
                if kind != SYNC {
                    batch.changes.push(change_of(kind, entity.to_string()));
                }
                Ok(())
            }
        }
    }
}

#[async_trait]
impl ChangeFeed for Notifications {
    async fn next(&mut self, sync: &SyncRequests) -> Result<ChangeBatch> {
        let mut batch = ChangeBatch::default();
        tokio::select! {
            received = self.received.recv() => self.take(received, &mut batch)?,
            round = sync.wanted() => {
                // PostgreSQL delivers notifications in commit order: every
                // change committed before the marker arrives before it. The
                // marker need not be durable.
                let marker = format!("{}{round}", self.marker);
                sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(&marker)
                    .execute(&self.pool)
                    .await?;
                while !batch.missed {
                    let received = self.received.recv().await;
                    if matches!(&received, Some(Ok(Some(payload))) if *payload == marker) {
                        break;
                    }
                    self.take(received, &mut batch)?;
                }
                batch.synced = Some(round);
            }
        }
        while let Ok(more) = self.received.try_recv() {
            self.take(Some(more), &mut batch)?;
        }
        Ok(batch)
    }
}
