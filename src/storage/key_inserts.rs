//! Group commit for key creation, for both backends. Each new key must be
//! durable, with its audit record, before it is returned; a commit per key
//! made the writer the limit (about 1,000 creates a second). Concurrent
//! creates therefore wait in one queue per process, and the keys waiting
//! together go in with one statement for their rows, one for their records,
//! and one commit. Should that transaction fail, each key is tried again
//! alone, so that one key's failure is only its own.

use super::{AuditRecord, InsertKey, KeyRatelimit, NewKey, Refill, Result, StorageError};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A backend's two ways to insert keys without roles.
#[async_trait]
pub(super) trait GroupInserter: Send + Sync + 'static {
    /// Inserts every key with its record, in one transaction: all or none.
    async fn insert_all(&self, keys: &[NewKey<'_>], records: &[AuditRecord]) -> Result<()>;

    /// Inserts one key (and its roles) with its record, in a transaction
    /// of its own.
    async fn insert_one(&self, key: &NewKey<'_>, record: &AuditRecord) -> Result<InsertKey>;
}

/// The most keys one group takes; more wait for the next.
const MAX_GROUP: usize = 256;

/// A [`NewKey`] without roles that owns its values, to wait in the queue.
struct QueuedKey {
    id: String,
    workspace_id: String,
    api_id: String,
    hash: Vec<u8>,
    start: String,
    name: Option<String>,
    owner_id: Option<String>,
    meta: Option<String>,
    environment: Option<String>,
    enabled: bool,
    created_at: i64,
    expires_at: Option<i64>,
    remaining: Option<i64>,
    refill: Option<Refill>,
    ratelimit: Option<KeyRatelimit>,
}

impl QueuedKey {
    fn of(key: &NewKey<'_>) -> QueuedKey {
        QueuedKey {
            id: key.id.to_string(),
            workspace_id: key.workspace_id.to_string(),
            api_id: key.api_id.to_string(),
            hash: key.hash.to_vec(),
            start: key.start.to_string(),
            name: key.name.map(str::to_string),
            owner_id: key.owner_id.map(str::to_string),
            meta: key.meta.clone(),
            environment: key.environment.map(str::to_string),
            enabled: key.enabled,
            created_at: key.created_at,
            expires_at: key.expires_at,
            remaining: key.remaining,
            refill: key.refill,
            ratelimit: key.ratelimit,
        }
    }

    fn new_key(&self) -> NewKey<'_> {
        NewKey {
            name: self.name.as_deref(),
            owner_id: self.owner_id.as_deref(),
            meta: self.meta.clone(),
            environment: self.environment.as_deref(),
            enabled: self.enabled,
            expires_at: self.expires_at,
            remaining: self.remaining,
            refill: self.refill,
            ratelimit: self.ratelimit,
            ..NewKey::plain(
                &self.id,
                &self.workspace_id,
                &self.api_id,
                &self.hash,
                &self.start,
                self.created_at,
            )
        }
    }
}

struct InsertRequest {
    key: QueuedKey,
    record: AuditRecord,
    reply: oneshot::Sender<Result<InsertKey>>,
}

/// The sending side; clones share the one task.
#[derive(Clone, Debug)]
pub(super) struct KeyInsertQueue {
    requests: mpsc::Sender<InsertRequest>,
}

impl KeyInsertQueue {
    /// Starts the task that inserts keys through `inserter`.
    pub(super) fn start(inserter: Arc<dyn GroupInserter>) -> KeyInsertQueue {
        let (requests, receiver) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(run(inserter, receiver));
        KeyInsertQueue { requests }
    }

    /// Inserts a key without roles with its record, answered once durable.
    pub(super) async fn insert(&self, key: &NewKey<'_>, record: &AuditRecord) -> Result<InsertKey> {
        debug_assert!(key.roles.is_empty(), "keys with roles go in alone");
        let (reply, answer) = oneshot::channel();
        let request = InsertRequest {
            key: QueuedKey::of(key),
            record: record.clone(),
            reply,
        };
        self.requests.send(request).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

fn closed() -> StorageError {
    StorageError::Unavailable("the key insert queue has stopped".into())
}

async fn run(inserter: Arc<dyn GroupInserter>, mut requests: mpsc::Receiver<InsertRequest>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while requests.recv_many(&mut group, MAX_GROUP).await > 0 {
        crate::metrics::STORAGE
            .key_insert_group_size
            .observe(group.len() as f64);
        let together = if group.len() > 1 {
            let keys: Vec<NewKey<'_>> = group.iter().map(|r| r.key.new_key()).collect();
            let records: Vec<AuditRecord> = group.iter().map(|r| r.record.clone()).collect();
            inserter.insert_all(&keys, &records).await.is_ok()
        } else {
            false
        };
        for request in group.drain(..) {
            let inserted = if together {
                Ok(InsertKey::Inserted)
            } else {
                inserter
                    .insert_one(&request.key.new_key(), &request.record)
                    .await
            };
            // A caller that went away no longer needs its answer.
            let _ = request.reply.send(inserted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records how it was called; its group transaction fails on demand.
    #[derive(Default)]
    struct Recorder {
        groups: Mutex<Vec<Vec<String>>>,
        alone: Mutex<Vec<String>>,
        fail_groups: bool,
    }

    #[async_trait]
    impl GroupInserter for Recorder {
        async fn insert_all(&self, keys: &[NewKey<'_>], records: &[AuditRecord]) -> Result<()> {
            assert_eq!(keys.len(), records.len());
            let ids = keys.iter().map(|k| k.id.to_string()).collect();
            self.groups.lock().expect("groups").push(ids);
            if self.fail_groups {
                return Err(StorageError::Unique("keys.hash".into()));
            }
            Ok(())
        }

        async fn insert_one(&self, key: &NewKey<'_>, _: &AuditRecord) -> Result<InsertKey> {
            self.alone.lock().expect("alone").push(key.id.to_string());
            if key.id == "key_7" {
                return Err(StorageError::Unique("keys.hash".into()));
            }
            Ok(InsertKey::Inserted)
        }
    }

    fn record(id: &str) -> AuditRecord {
        AuditRecord {
            at_ms: 1,
            actor: "cli".into(),
            action: "key.create",
            target: id.into(),
            workspace_id: None,
            project_id: None,
            request_id: None,
            summary: "{}".into(),
        }
    }

    /// Inserts ten keys at once through a queue over `recorder`.
    async fn insert_ten(recorder: Arc<Recorder>) -> Vec<Result<InsertKey>> {
        let queue = KeyInsertQueue::start(recorder);
        let ids: Vec<String> = (0..10).map(|i| format!("key_{i}")).collect();
        let inserts = ids.iter().map(|id| {
            let queue = queue.clone();
            async move {
                let key = NewKey::plain(id, "ws_1", "api_1", b"hash", "sk_", 1);
                queue.insert(&key, &record(id)).await
            }
        });
        futures::future::join_all(inserts).await
    }

    #[tokio::test]
    async fn keys_waiting_together_are_inserted_in_one_group() {
        let recorder = Arc::new(Recorder::default());
        let results = insert_ten(Arc::clone(&recorder)).await;
        assert!(results.iter().all(|r| matches!(r, Ok(InsertKey::Inserted))));
        let groups = recorder.groups.lock().expect("groups").clone();
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].len(), 10);
        assert!(recorder.alone.lock().expect("alone").is_empty());
    }

    #[tokio::test]
    async fn a_failed_group_is_tried_again_key_by_key() {
        let recorder = Arc::new(Recorder {
            fail_groups: true,
            ..Recorder::default()
        });
        let results = insert_ten(Arc::clone(&recorder)).await;
        assert_eq!(recorder.alone.lock().expect("alone").len(), 10);
        for (i, result) in results.iter().enumerate() {
            if i == 7 {
                assert!(
                    result
                        .as_ref()
                        .is_err_and(StorageError::is_unique_violation)
                );
            } else {
                assert!(matches!(result, Ok(InsertKey::Inserted)), "{i}: {result:?}");
            }
        }
    }
}
