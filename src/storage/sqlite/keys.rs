//! Unkey keys in SQLite.

use super::SqliteStorage;
use crate::storage::audit;
use crate::storage::key_inserts::GroupInserter;
use crate::storage::keys::StoredKey;
use crate::storage::{
    AuditRecord, ImportKeys, InsertKey, KeyPage, KeyPatch, KeyRow, KeyStore, NewKey,
    RefillBoundaries, RemainingChange, Result, Spend, VerifiableKeyRow,
};
use async_trait::async_trait;
use sqlx::{Connection as _, QueryBuilder, Sqlite};

/// The columns of a key, as every read returns them. `roles` and
/// `permissions` are JSON arrays of names: the roles attached to the key, and
/// the permissions attached directly. A macro, so that queries stay literals.
macro_rules! key_columns {
    () => {
        "k.id, k.workspace_id, k.api_id, k.hash, k.start, k.name, k.owner_id, k.meta,
    k.environment, k.enabled, k.created_at, k.expires_at, k.remaining, k.refill_interval,
    k.refill_amount, k.last_refill_at, k.ratelimit_type, k.ratelimit_limit, k.ratelimit_refill_rate,
    k.ratelimit_refill_interval,
    (SELECT json_group_array(r.name) FROM key_roles kr JOIN roles r ON r.id = kr.role_id
      WHERE kr.key_id = k.id) AS roles,
    (SELECT json_group_array(p.name) FROM key_permissions kp JOIN permissions p ON p.id = kp.permission_id
      WHERE kp.key_id = k.id) AS permissions"
    };
}

/// SQL: whether a key's refill is due (binds day start, month start).
macro_rules! refill_due {
    () => {
        "(refill_interval IS NOT NULL AND refill_amount IS NOT NULL
    AND (last_refill_at IS NULL
         OR (refill_interval = 'daily' AND last_refill_at < ?)
         OR (refill_interval = 'monthly' AND last_refill_at < ?)))"
    };
}

/// SQL: a key's remaining uses once a due refill is applied (binds day
/// start, month start).
macro_rules! refilled_remaining {
    () => {
        concat!(
            "(CASE WHEN ",
            refill_due!(),
            " THEN MAX(remaining, refill_amount) ELSE remaining END)"
        )
    };
}
pub(super) use {refill_due, refilled_remaining};

#[async_trait]
impl KeyStore for SqliteStorage {
    /// A key without roles waits to be committed with the others that
    /// arrive meanwhile (see `key_inserts.rs`).
    async fn insert_key(&self, key: &NewKey<'_>, audit: &AuditRecord) -> Result<InsertKey> {
        if key.roles.is_empty() {
            return self.key_inserts.insert(key, audit).await;
        }
        insert_key_alone(&self.writer, key, audit).await
    }

    async fn import_keys(&self, keys: &[NewKey<'_>], audits: &[AuditRecord]) -> Result<ImportKeys> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        for (index, key) in keys.iter().enumerate() {
            let (exists,): (bool,) =
                sqlx::query_as("SELECT EXISTS (SELECT 1 FROM keys WHERE hash = ?)")
                    .bind(key.hash)
                    .fetch_one(&mut *tx)
                    .await?;
            if exists {
                return Ok(ImportKeys::HashExists { index });
            }
            if let InsertKey::MissingRoles(roles) = insert_key_with_roles(&mut tx, key).await? {
                return Ok(ImportKeys::MissingRoles { index, roles });
            }
        }
        audit::record_all(&mut tx, audits).await?;
        tx.commit().await?;
        Ok(ImportKeys::Inserted)
    }

    async fn insert_keys(&self, keys: &[NewKey<'_>]) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in keys.chunks(500) {
            let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO keys (id, workspace_id, api_id, hash, start, enabled, created_at, remaining) ",
            );
            insert.push_values(chunk, |mut row, key| {
                row.push_bind(key.id)
                    .push_bind(key.workspace_id)
                    .push_bind(key.api_id)
                    .push_bind(key.hash)
                    .push_bind(key.start)
                    .push_bind(key.enabled)
                    .push_bind(key.created_at)
                    .push_bind(key.remaining);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_key(&self, workspace_id: &str, key_id: &str) -> Result<Option<KeyRow>> {
        let row: Option<StoredKey> = sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM keys k WHERE k.id = ? AND k.workspace_id = ? AND k.deleted_at IS NULL"
        ))
        .bind(key_id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(KeyRow::from))
    }

    /// One indexed lookup, on the calling thread (see [`super::key_lookup`]).
    async fn find_key_by_hash(&self, hash: &[u8]) -> Result<Option<VerifiableKeyRow>> {
        self.key_lookup.find_by_hash(hash)
    }

    /// On a blocking thread: a page is thousands of rows.
    async fn live_keys_after(
        &self,
        after: &[u8],
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, VerifiableKeyRow)>> {
        let lookup = std::sync::Arc::clone(&self.key_lookup);
        let after = after.to_vec();
        tokio::task::spawn_blocking(move || lookup.live_keys_after(&after, limit))
            .await
            .map_err(|e| crate::storage::StorageError::Unavailable(e.to_string()))?
    }

    /// Applies a patch to a live key. Returns false when there is no such key.
    async fn update_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        patch: &KeyPatch<'_>,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut update: QueryBuilder<Sqlite> =
            crate::storage::keys::patch_query(workspace_id, key_id, patch, now_ms);
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let result = update.build().execute(&mut *tx).await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Soft-deletes a live key. Returns false when there is no such key.
    async fn delete_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let result = sqlx::query(
            "UPDATE keys SET deleted_at = ? WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
        )
        .bind(now_ms)
        .bind(key_id)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Spends one use of a key, refilling it first if a refill is due. It is
    /// committed with the other spends waiting at the same moment, through
    /// the one writer, so concurrent spends never overspend (see
    /// `spends.rs`); it is answered only once that commit is durable.
    async fn spend_key(
        &self,
        key_id: &str,
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<Spend> {
        self.spends.spend(key_id, now_ms, refill).await
    }

    /// Applies a due refill to a key, so that reads see it. Rarely writes.
    async fn refill_if_due(
        &self,
        key_id: &str,
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<()> {
        sqlx::query(concat!(
            "UPDATE keys SET remaining = MAX(COALESCE(remaining, 0), refill_amount), last_refill_at = ?
              WHERE id = ? AND deleted_at IS NULL AND ",
            refill_due!()
        ))
        .bind(now_ms)
        .bind(key_id)
        .bind(refill.day_start)
        .bind(refill.month_start)
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(())
    }

    /// Changes a live key's remaining uses atomically: `Add` adds (or, when
    /// negative, subtracts) to a limited key; `Set` replaces, and `Set(None)`
    /// makes the key unlimited, dropping its refill. Returns the new value,
    /// or `None` when no live key (or, for `Add`, no limited key) matched.
    async fn change_remaining(
        &self,
        workspace_id: &str,
        key_id: &str,
        change: RemainingChange,
        audit: &AuditRecord,
    ) -> Result<Option<Option<i64>>> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let row: Option<(Option<i64>,)> = match change {
            RemainingChange::Add(delta) => {
                sqlx::query_as(
                    "UPDATE keys SET remaining = remaining + ?
                      WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL AND remaining IS NOT NULL
                      RETURNING remaining",
                )
                .bind(delta)
                .bind(key_id)
                .bind(workspace_id)
                .fetch_optional(&mut *tx)
                .await?
            }
            RemainingChange::Set(value) => {
                sqlx::query_as(
                    "UPDATE keys SET remaining = ?1,
                        refill_interval = CASE WHEN ?1 IS NULL THEN NULL ELSE refill_interval END,
                        refill_amount = CASE WHEN ?1 IS NULL THEN NULL ELSE refill_amount END
                      WHERE id = ?2 AND workspace_id = ?3 AND deleted_at IS NULL
                      RETURNING remaining",
                )
                .bind(value)
                .bind(key_id)
                .bind(workspace_id)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let Some((remaining,)) = row else {
            return Ok(None);
        };
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some(remaining))
    }

    /// A page of an api's live keys, ordered by id.
    async fn list_keys(&self, api_id: &str, page: &KeyPage<'_>) -> Result<Vec<KeyRow>> {
        let mut query: QueryBuilder<Sqlite> = crate::storage::keys::page_query(
            concat!("SELECT ", key_columns!(), " FROM keys k"),
            api_id,
            page,
        );
        let rows: Vec<StoredKey> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(KeyRow::from).collect())
    }

    /// How many live keys an api has.
    async fn count_keys(&self, api_id: &str) -> Result<i64> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM keys WHERE api_id = ? AND deleted_at IS NULL")
                .bind(api_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    /// Ids of the workspace's live keys that have this owner.
    async fn key_ids_by_owner(
        &self,
        workspace_id: &str,
        owner_id: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, api_id FROM keys WHERE workspace_id = ? AND owner_id = ? AND deleted_at IS NULL ORDER BY id",
        )
        .bind(workspace_id)
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Group commit of new keys through the one writer.
pub(super) struct SqliteInserter {
    pub(super) writer: std::sync::Arc<super::writer::Writer>,
}

#[async_trait]
impl GroupInserter for SqliteInserter {
    /// The whole transaction goes to the connection's thread as one list of
    /// statements: one round trip instead of four (begin, keys, records,
    /// commit). Under createKey load each round trip waited about 250 µs
    /// for a core, a quarter of a group's time.
    async fn insert_all(&self, keys: &[NewKey<'_>], records: &[AuditRecord]) -> Result<()> {
        let mut group = QueryBuilder::<Sqlite>::new("BEGIN IMMEDIATE; ");
        crate::storage::keys::push_insert_keys(&mut group, keys);
        group.push("; ");
        crate::storage::audit::push_insert_audit(&mut group, records);
        group.push("; COMMIT");
        let mut writer = self.writer.lock().await?;
        let inserted = group.build().execute(&mut *writer).await;
        if inserted.is_err() {
            // A statement failed and left its transaction open, if BEGIN
            // itself did not fail (then ROLLBACK has nothing to undo).
            let _ = sqlx::query("ROLLBACK").execute(&mut *writer).await;
        }
        inserted?;
        Ok(())
    }

    async fn insert_one(&self, key: &NewKey<'_>, record: &AuditRecord) -> Result<InsertKey> {
        insert_key_alone(&self.writer, key, record).await
    }
}

/// Inserts a key with its roles and its record, in a transaction of its own.
async fn insert_key_alone(
    writer: &super::writer::Writer,
    key: &NewKey<'_>,
    record: &AuditRecord,
) -> Result<InsertKey> {
    let mut writer = writer.lock().await?;
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let inserted = insert_key_with_roles(&mut tx, key).await?;
    if inserted == InsertKey::Inserted {
        audit::record(&mut tx, record).await?;
        tx.commit().await?;
    }
    Ok(inserted)
}

/// The key's own row; its roles are separate rows.
async fn insert_key_row<'e>(
    executor: impl sqlx::Executor<'e, Database = Sqlite>,
    key: &NewKey<'_>,
) -> Result<()> {
    let mut insert = QueryBuilder::<Sqlite>::new("");
    crate::storage::keys::push_insert_keys(&mut insert, std::slice::from_ref(key));
    insert.build().execute(executor).await?;
    Ok(())
}

/// Inserts a key and attaches its roles, inside `tx`; nothing when a role
/// does not exist.
async fn insert_key_with_roles(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    key: &NewKey<'_>,
) -> Result<InsertKey> {
    let mut role_ids = Vec::with_capacity(key.roles.len());
    let mut missing = Vec::new();
    for name in key.roles {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT id FROM roles WHERE workspace_id = ? AND name = ?")
                .bind(key.workspace_id)
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?;
        match found {
            Some((id,)) => role_ids.push(id),
            None => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        return Ok(InsertKey::MissingRoles(missing));
    }
    insert_key_row(&mut **tx, key).await?;
    for role_id in role_ids {
        sqlx::query("INSERT OR IGNORE INTO key_roles (key_id, role_id) VALUES (?, ?)")
            .bind(key.id)
            .bind(role_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(InsertKey::Inserted)
}
