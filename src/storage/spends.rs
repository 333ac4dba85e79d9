//! Group commit for key spends. Every usage-limited verification is a write
//! that must be durable before it is reported, and a commit costs an fsync.
//! Concurrent spends are therefore queued to one task, which runs all that
//! are waiting in one transaction: one fsync, and two statements, for the
//! whole group. Each caller still gets the exact result of its own spend, in
//! arrival order, and only after the commit.

use super::keys::{RefillBoundaries, Spend};
use super::{Result, StorageError};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

/// The most spends one transaction takes; more wait for the next.
const MAX_GROUP: usize = 512;

struct SpendRequest {
    key_id: String,
    now_ms: i64,
    refill: RefillBoundaries,
    reply: oneshot::Sender<Result<Spend>>,
}

/// The sending side; clones share the one task.
#[derive(Clone, Debug)]
pub(super) struct SpendQueue {
    requests: mpsc::Sender<SpendRequest>,
}

impl std::fmt::Debug for SpendRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpendRequest")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SpendQueue {
    /// Starts the task that commits spends through `writer`.
    pub(super) fn start(writer: SqlitePool) -> SpendQueue {
        let (requests, receiver) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(run(writer, receiver));
        SpendQueue { requests }
    }

    pub(super) async fn spend(
        &self,
        key_id: &str,
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<Spend> {
        let (reply, answer) = oneshot::channel();
        let request = SpendRequest {
            key_id: key_id.to_string(),
            now_ms,
            refill,
            reply,
        };
        self.requests.send(request).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

fn closed() -> StorageError {
    StorageError::Unavailable("the spend queue has stopped".into())
}

async fn run(writer: SqlitePool, mut requests: mpsc::Receiver<SpendRequest>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while requests.recv_many(&mut group, MAX_GROUP).await > 0 {
        match commit_group(&writer, &group).await {
            Ok(spends) => {
                for (request, spend) in group.drain(..).zip(spends) {
                    // A caller that went away no longer needs its answer.
                    let _ = request.reply.send(Ok(spend));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for request in group.drain(..) {
                    let _ = request
                        .reply
                        .send(Err(StorageError::Unavailable(message.clone())));
                }
            }
        }
    }
}

async fn commit_group(writer: &SqlitePool, group: &[SpendRequest]) -> Result<Vec<Spend>> {
    // IMMEDIATE: the write lock from the start, so no other process can
    // write between a run's read and its write.
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut spends = Vec::with_capacity(group.len());
    // Runs of requests that share refill periods (all of them, unless the
    // group straddles midnight UTC) are spent together.
    for run in group.chunk_by(|a, b| a.refill == b.refill) {
        let key_ids: Vec<&str> = run.iter().map(|r| r.key_id.as_str()).collect();
        spends.extend(
            super::keys::spend_all_in(&mut tx, &key_ids, run[0].now_ms, run[0].refill).await?,
        );
    }
    tx.commit().await?;
    Ok(spends)
}
