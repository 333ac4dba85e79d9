//! Group commit for key spends. Every usage-limited verification is a write
//! that must be durable before it is reported, and a commit costs an fsync.
//! Concurrent spends are therefore queued to one task, which runs all that
//! are waiting together: usually one statement and one fsync for the whole
//! group (see [`spend_run`]). Each caller still gets the exact result of its
//! own spend, in arrival order, and only after the commit.

use crate::storage::{RefillBoundaries, Result, Spend, StorageError};
use sqlx::SqlitePool;
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// The most spends one group takes; more wait for the next.
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
                    let error = if error.is_busy() {
                        StorageError::Busy
                    } else {
                        StorageError::Unavailable(message.clone())
                    };
                    let _ = request.reply.send(Err(error));
                }
            }
        }
    }
}

async fn commit_group(writer: &SqlitePool, group: &[SpendRequest]) -> Result<Vec<Spend>> {
    let mut spends = Vec::with_capacity(group.len());
    // Runs of requests that share refill periods (all of them, unless the
    // group straddles midnight UTC) are spent together.
    for run in group.chunk_by(|a, b| a.refill == b.refill) {
        let key_ids: Vec<&str> = run.iter().map(|r| r.key_id.as_str()).collect();
        spends.extend(spend_run(writer, &key_ids, run[0].now_ms, run[0].refill).await?);
    }
    Ok(spends)
}

/// Spends one use per entry of `key_ids`, in order. Keys with enough uses
/// for all their spends, the usual case, take one statement; the others (about
/// to run out, unknown or unlimited) go through a transaction that hands out
/// what is left in order.
async fn spend_run(
    writer: &SqlitePool,
    key_ids: &[&str],
    now_ms: i64,
    refill: RefillBoundaries,
) -> Result<Vec<Spend>> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for id in key_ids {
        *counts.entry(id).or_default() += 1;
    }
    let listed: Vec<(&str, i64)> = counts.iter().map(|(id, count)| (*id, *count)).collect();
    // What the next spend of each fully served key leaves.
    let mut next_left: HashMap<String, i64> =
        super::keys::spend_where_enough(writer, &listed, now_ms, refill)
            .await?
            .into_iter()
            .map(|(id, left)| {
                let count = counts.get(id.as_str()).copied().unwrap_or(0);
                (id, left + count - 1)
            })
            .collect();
    let rest: Vec<&str> = key_ids
        .iter()
        .copied()
        .filter(|id| !next_left.contains_key(*id))
        .collect();
    let mut rest_spends = if rest.is_empty() {
        Vec::new()
    } else {
        // IMMEDIATE: the write lock from the start, so no other process can
        // write between the read of what is left and the write.
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let spends = super::keys::spend_all_in(&mut tx, &rest, now_ms, refill).await?;
        tx.commit().await?;
        spends
    }
    .into_iter();
    Ok(key_ids
        .iter()
        .map(|id| match next_left.get_mut(*id) {
            Some(left) => {
                *left -= 1;
                Spend::Spent(*left + 1)
            }
            None => rest_spends.next().unwrap_or(Spend::Exhausted),
        })
        .collect())
}
