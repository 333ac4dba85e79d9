//! The audit log: who changed what. The domain describes each change as an
//! [`AuditRecord`]; storage writes it in the change's own transaction, so a
//! change is never without its record, nor a record without its change.
//! Records hold ids, names and the fields that changed, never a secret or a
//! hash.

use crate::storage::{AuditQuery, AuditRecord, AuditRow, Storage};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// Who made a change: a root key, an access key or the CLI, and in which
/// request.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub id: &'a str,
    pub request_id: Option<&'a str>,
}

impl Actor<'_> {
    /// The operator, through the command line (or `serve`'s bootstrap).
    pub const CLI: Actor<'static> = Actor {
        id: "cli",
        request_id: None,
    };
}

/// What a change belongs to, for `keyward audit list --workspace/--project`.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Workspace(&'a str),
    Project(&'a str),
    /// The whole installation (a signing key).
    Global,
}

/// The fields a change set: names, with their values where they are not
/// secret. Built field by field; absent fields are left out.
#[derive(Debug, Default)]
pub struct Summary(Map<String, Value>);

impl Summary {
    pub fn new() -> Summary {
        Summary::default()
    }

    /// `field` with its value.
    pub fn set(mut self, field: &str, value: impl Serialize) -> Summary {
        self.0.insert(
            field.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// `field` with its value, when it is given.
    pub fn set_some<T: Serialize>(self, field: &str, value: Option<T>) -> Summary {
        match value {
            Some(value) => self.set(field, value),
            None => self,
        }
    }
}

/// A customer's `meta` as a summary shows it: the names of its fields only,
/// since its values may be anything.
pub fn field_names(meta: &Map<String, Value>) -> Vec<&str> {
    meta.keys().map(String::as_str).collect()
}

/// The record of one change.
pub fn record(
    actor: Actor<'_>,
    at_ms: i64,
    action: &'static str,
    target: &str,
    scope: Scope<'_>,
    summary: Summary,
) -> AuditRecord {
    let (workspace_id, project_id) = match scope {
        Scope::Workspace(id) => (Some(id.to_string()), None),
        Scope::Project(id) => (None, Some(id.to_string())),
        Scope::Global => (None, None),
    };
    AuditRecord {
        at_ms,
        actor: actor.id.to_string(),
        action,
        target: target.to_string(),
        workspace_id,
        project_id,
        request_id: actor.request_id.map(str::to_string),
        summary: Value::Object(summary.0).to_string(),
    }
}

/// The most records `keyward audit list` shows at once.
pub const MAX_LIST: i64 = 10_000;

/// Records matching `query`, newest first.
pub async fn list(storage: &Storage, query: &AuditQuery<'_>) -> anyhow::Result<Vec<AuditRow>> {
    let query = AuditQuery {
        limit: query.limit.clamp(1, MAX_LIST),
        ..query.clone()
    };
    Ok(storage.list_audit(&query).await?)
}

/// Records deleted per statement when pruning: each is a short write, so
/// requests that write wait at most for one.
const PRUNE_BATCH: i64 = 1_000;

/// Deletes records older than `retention`, a batch at a time with a pause
/// between, so that pruning never holds the writer for long. Returns how
/// many went.
pub async fn prune(storage: &Storage, now_ms: i64, retention: Duration) -> anyhow::Result<u64> {
    let before = now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    let mut pruned = 0;
    loop {
        let deleted = storage.prune_audit(before, PRUNE_BATCH).await?;
        pruned += deleted;
        if deleted < PRUNE_BATCH as u64 {
            return Ok(pruned);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How often old records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes records older than `retention` at start and then hourly, in the
/// background (see [`prune`]).
pub fn spawn_pruner(
    storage: Storage,
    clock: std::sync::Arc<dyn crate::domain::clock::Clock>,
    retention: Duration,
    log: slog::Logger,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match prune(&storage, clock.now_ms(), retention).await {
                Ok(0) => {}
                Ok(pruned) => slog::info!(log, "pruned the audit log"; "records" => pruned),
                Err(e) => {
                    slog::warn!(log, "pruning the audit log failed; will retry"; "error" => %e)
                }
            }
        }
    })
}
