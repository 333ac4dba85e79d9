//! Changes in PostgreSQL: the triggers of `migrations/postgres/` send a
//! NOTIFY on `keyward_changes` with each write; every node LISTENs.
//! PostgreSQL delivers a notification only after its transaction commits,
//! in commit order, to every session listening then. A node whose listening
//! connection drops misses what was sent meanwhile, so after a reconnect it
//! drops everything it cached.

use super::PgStorage;
use crate::storage::{ChangeBatch, ChangeFeed, ChangeStore, Result, changes::change_of};
use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgNotification};

const CHANNEL: &str = "keyward_changes";

#[async_trait]
impl ChangeStore for PgStorage {
    async fn change_feed(&self) -> Result<Box<dyn ChangeFeed>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Box::new(Notifications { listener }))
    }

    /// Notifications are not kept: nothing to prune.
    async fn prune_changes(&self, _before_ms: i64) -> Result<u64> {
        Ok(0)
    }
}

struct Notifications {
    listener: PgListener,
}

fn change(notification: &PgNotification) -> crate::storage::Change {
    let (kind, entity) = notification
        .payload()
        .split_once(':')
        .unwrap_or((notification.payload(), ""));
    change_of(kind, entity.to_string())
}

#[async_trait]
impl ChangeFeed for Notifications {
    async fn next(&mut self) -> Result<ChangeBatch> {
        // `None`: the connection dropped; the listener reconnects on the
        // next call, and what was sent meanwhile is lost.
        let Some(first) = self.listener.try_recv().await? else {
            return Ok(ChangeBatch {
                changes: Vec::new(),
                missed: true,
            });
        };
        let mut changes = vec![change(&first)];
        while let Some(more) = self.listener.next_buffered() {
            changes.push(change(&more));
        }
        Ok(ChangeBatch {
            changes,
            missed: false,
        })
    }
}
