//! The audit log: one row per change, written in the change's own
//! transaction by every storage method that makes one.

use super::Result;
use async_trait::async_trait;

/// One change, as the domain describes it. Never holds a secret or a hash.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub at_ms: i64,
    /// A root key id, an access key id, or `cli`.
    pub actor: String,
    /// What was done, as `<resource>.<verb>`: `key.create`, `api.delete`, ….
    pub action: &'static str,
    /// The id of what changed.
    pub target: String,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    /// The request that made the change; none for the CLI.
    pub request_id: Option<String>,
    /// A JSON object: the fields that changed, with their values where they
    /// are not secret.
    pub summary: String,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    pub request_id: Option<String>,
    pub summary: String,
}

/// Which records to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    pub workspace_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub since_ms: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AuditStore {
    /// Records matching `query`, newest first.
    async fn list_audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditRow>>;

    /// Deletes up to `batch` records older than `before_ms`, oldest first;
    /// returns how many. Short, so that it never holds the writer long.
    async fn prune_audit(&self, before_ms: i64, batch: i64) -> Result<u64>;
}

/// Appends the INSERT of `records` to `insert`, for either backend: one
/// statement.
pub(super) fn push_insert_audit<'a, DB>(
    insert: &mut sqlx::QueryBuilder<DB>,
    records: &'a [AuditRecord],
) where
    DB: sqlx::Database,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<&'a str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    insert.push(
        "INSERT INTO audit_log (at_ms, actor, action, target, workspace_id, project_id, request_id, summary) ",
    );
    insert.push_values(records, |mut row, record| {
        row.push_bind(record.at_ms)
            .push_bind(record.actor.as_str())
            .push_bind(record.action)
            .push_bind(record.target.as_str())
            .push_bind(record.workspace_id.as_deref())
            .push_bind(record.project_id.as_deref())
            .push_bind(record.request_id.as_deref())
            .push_bind(record.summary.as_str());
    });
}

/// Records a change inside the transaction that makes it, on either
/// backend.
pub(super) async fn record<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    record: &AuditRecord,
) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<&'a str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    record_all(tx, std::slice::from_ref(record)).await
}

/// Records several changes made in one transaction, in one statement.
pub(super) async fn record_all<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    records: &[AuditRecord],
) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<&'a str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    if records.is_empty() {
        return Ok(());
    }
    let mut insert = sqlx::QueryBuilder::new("");
    push_insert_audit(&mut insert, records);
    insert.build().execute(&mut **tx).await?;
    Ok(())
}

/// The SELECT of [`AuditStore::list_audit`], for either backend.
pub(super) fn list_audit_query<'a, DB>(query: &'a AuditQuery<'a>) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut select = sqlx::QueryBuilder::new(
        "SELECT id, at_ms, actor, action, target, workspace_id, project_id, request_id, summary
           FROM audit_log WHERE 1 = 1",
    );
    if let Some(workspace_id) = query.workspace_id {
        select.push(" AND workspace_id = ").push_bind(workspace_id);
    }
    if let Some(project_id) = query.project_id {
        select.push(" AND project_id = ").push_bind(project_id);
    }
    if let Some(since_ms) = query.since_ms {
        select.push(" AND at_ms >= ").push_bind(since_ms);
    }
    select
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(query.limit);
    select
}

/// The DELETE of [`AuditStore::prune_audit`]: same SQL on both backends.
pub(super) const PRUNE_AUDIT: &str = "DELETE FROM audit_log WHERE id IN
    (SELECT id FROM audit_log WHERE at_ms < $1 ORDER BY id LIMIT $2)";
