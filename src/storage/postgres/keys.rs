//! Unkey keys in PostgreSQL.

use super::{PgStorage, refill_due};
use crate::storage::audit;
use crate::storage::key_inserts::GroupInserter;
use crate::storage::keys::{StoredKey, names, ratelimit_of};
use crate::storage::{
    AuditRecord, ImportKeys, InsertKey, KeyPage, KeyPatch, KeyRow, KeyStore, NewKey,
    RefillBoundaries, RemainingChange, Result, Spend, VerifiableKeyRow,
};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

/// What verification reads of a key, from `keys k`: the columns that
/// [`verifiable_key`] maps.
macro_rules! verifiable_columns {
    () => {
        "SELECT k.id, k.workspace_id, k.api_id, k.name, k.owner_id, k.meta, k.environment,
                k.enabled, k.expires_at, k.remaining IS NOT NULL, k.ratelimit_type,
                k.ratelimit_limit, k.ratelimit_refill_rate, k.ratelimit_refill_interval,
                COALESCE((SELECT json_agg(name ORDER BY name) FROM (
                    SELECT p.name FROM key_permissions kp JOIN permissions p ON p.id = kp.permission_id
                     WHERE kp.key_id = k.id
                    UNION
                    SELECT p.name FROM key_roles kr
                      JOIN role_permissions rp ON rp.role_id = kr.role_id
                      JOIN permissions p ON p.id = rp.permission_id
                     WHERE kr.key_id = k.id) AS effective)::text, '[]')"
    };
}

/// The columns of a key, as every read returns them; `roles` and
/// `permissions` as JSON arrays of names, as `StoredKey` reads them.
macro_rules! key_columns {
    () => {
        "k.id, k.workspace_id, k.api_id, k.hash, k.start, k.name, k.owner_id, k.meta,
    k.environment, k.enabled, k.created_at, k.expires_at, k.remaining, k.refill_interval,
    k.refill_amount, k.last_refill_at, k.ratelimit_type, k.ratelimit_limit, k.ratelimit_refill_rate,
    k.ratelimit_refill_interval,
    COALESCE((SELECT json_agg(r.name ORDER BY r.name) FROM key_roles kr JOIN roles r ON r.id = kr.role_id
      WHERE kr.key_id = k.id)::text, '[]') AS roles,
    COALESCE((SELECT json_agg(p.name ORDER BY p.name) FROM key_permissions kp
      JOIN permissions p ON p.id = kp.permission_id WHERE kp.key_id = k.id)::text, '[]') AS permissions"
    };
}

#[async_trait]
impl KeyStore for PgStorage {
    /// A key without roles waits to be committed with the others that
    /// arrive meanwhile (see `key_inserts.rs`): one WAL flush for them all.
    async fn insert_key(&self, key: &NewKey<'_>, audit: &AuditRecord) -> Result<InsertKey> {
        if key.roles.is_empty() {
            return self.key_inserts.insert(key, audit).await;
        }
        insert_key_alone(&self.pool, key, audit).await
    }

    async fn import_keys(&self, keys: &[NewKey<'_>], audits: &[AuditRecord]) -> Result<ImportKeys> {
        let mut tx = self.pool.begin().await?;
        for (index, key) in keys.iter().enumerate() {
            let (exists,): (bool,) =
                sqlx::query_as("SELECT EXISTS (SELECT 1 FROM keys WHERE hash = $1)")
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
        let mut tx = self.pool.begin().await?;
        for chunk in keys.chunks(1000) {
            let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(
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
            " FROM keys k WHERE k.id = $1 AND k.workspace_id = $2 AND k.deleted_at IS NULL"
        ))
        .bind(key_id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(KeyRow::from))
    }

    async fn find_key_by_hash(&self, hash: &[u8]) -> Result<Option<VerifiableKeyRow>> {
        let row = sqlx::query(concat!(
            verifiable_columns!(),
            " FROM keys k WHERE k.hash = $1 AND k.deleted_at IS NULL"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(verifiable_key).transpose()?)
    }

    async fn live_keys_after(
        &self,
        after: &[u8],
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, VerifiableKeyRow)>> {
        let rows = sqlx::query(concat!(
            verifiable_columns!(),
            ", k.hash FROM keys k WHERE k.hash > $1 AND k.deleted_at IS NULL ORDER BY k.hash LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let page = rows
            .iter()
            .map(|row| Ok((row.try_get(15)?, verifiable_key(row)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(page)
    }

    async fn update_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        patch: &KeyPatch<'_>,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut update: QueryBuilder<Postgres> =
            crate::storage::keys::patch_query(workspace_id, key_id, patch, now_ms);
        let mut tx = self.pool.begin().await?;
        let result = update.build().execute(&mut *tx).await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        audit::record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "UPDATE keys SET deleted_at = $1 WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL",
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

    async fn spend_key(
        &self,
        key_id: &str,
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<Spend> {
        self.spends.spend(key_id, now_ms, refill).await
    }

    async fn refill_if_due(
        &self,
        key_id: &str,
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<()> {
        sqlx::query(concat!(
            "UPDATE keys SET remaining = GREATEST(COALESCE(remaining, 0), refill_amount),
                    last_refill_at = $2
              WHERE id = $1 AND deleted_at IS NULL AND ",
            refill_due!("3", "4")
        ))
        .bind(key_id)
        .bind(now_ms)
        .bind(refill.day_start)
        .bind(refill.month_start)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn change_remaining(
        &self,
        workspace_id: &str,
        key_id: &str,
        change: RemainingChange,
        audit: &AuditRecord,
    ) -> Result<Option<Option<i64>>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(Option<i64>,)> = match change {
            RemainingChange::Add(delta) => {
                sqlx::query_as(
                    "UPDATE keys SET remaining = remaining + $1
                      WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL AND remaining IS NOT NULL
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
                    "UPDATE keys SET remaining = $1::BIGINT,
                        refill_interval = CASE WHEN $1::BIGINT IS NULL THEN NULL ELSE refill_interval END,
                        refill_amount = CASE WHEN $1::BIGINT IS NULL THEN NULL ELSE refill_amount END
                      WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL
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

    async fn list_keys(&self, api_id: &str, page: &KeyPage<'_>) -> Result<Vec<KeyRow>> {
        let mut query: QueryBuilder<Postgres> = crate::storage::keys::page_query(
            concat!("SELECT ", key_columns!(), " FROM keys k"),
            api_id,
            page,
        );
        let rows: Vec<StoredKey> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(KeyRow::from).collect())
    }

    async fn count_keys(&self, api_id: &str) -> Result<i64> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM keys WHERE api_id = $1 AND deleted_at IS NULL")
                .bind(api_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    async fn key_ids_by_owner(
        &self,
        workspace_id: &str,
        owner_id: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, api_id FROM keys
              WHERE workspace_id = $1 AND owner_id = $2 AND deleted_at IS NULL ORDER BY id",
        )
        .bind(workspace_id)
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Group commit of new keys.
pub(super) struct PgInserter {
    pub(super) pool: sqlx::PgPool,
}

#[async_trait]
impl GroupInserter for PgInserter {
    /// The keys and their records in one statement (the keys' INSERT in a
    /// `WITH`, which runs once whether or not it is read): atomic on its
    /// own, so one round trip to the database instead of four (begin,
    /// keys, records, commit).
    async fn insert_all(&self, keys: &[NewKey<'_>], records: &[AuditRecord]) -> Result<()> {
        let mut insert = QueryBuilder::<Postgres>::new("WITH created AS (");
        crate::storage::keys::push_insert_keys(&mut insert, keys);
        insert.push(") ");
        audit::push_insert_audit(&mut insert, records);
        insert.build().execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_one(&self, key: &NewKey<'_>, record: &AuditRecord) -> Result<InsertKey> {
        insert_key_alone(&self.pool, key, record).await
    }
}

/// Inserts a key with its roles and its record, in a transaction of its own.
async fn insert_key_alone(
    pool: &sqlx::PgPool,
    key: &NewKey<'_>,
    record: &AuditRecord,
) -> Result<InsertKey> {
    let mut tx = pool.begin().await?;
    let inserted = insert_key_with_roles(&mut tx, key).await?;
    if inserted == InsertKey::Inserted {
        audit::record(&mut tx, record).await?;
        tx.commit().await?;
    }
    Ok(inserted)
}

/// The key's own row; its roles are separate rows.
async fn insert_key_row<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
    key: &NewKey<'_>,
) -> Result<()> {
    let mut insert = QueryBuilder::<Postgres>::new("");
    crate::storage::keys::push_insert_keys(&mut insert, std::slice::from_ref(key));
    insert.build().execute(executor).await?;
    Ok(())
}

/// Inserts a key and attaches its roles, inside `tx`; nothing when a role
/// does not exist.
async fn insert_key_with_roles(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    key: &NewKey<'_>,
) -> Result<InsertKey> {
    let mut role_ids = Vec::with_capacity(key.roles.len());
    let mut missing = Vec::new();
    for name in key.roles {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT id FROM roles WHERE workspace_id = $1 AND name = $2")
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
        sqlx::query(
            "INSERT INTO key_roles (key_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(key.id)
        .bind(role_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(InsertKey::Inserted)
}

fn verifiable_key(row: &PgRow) -> std::result::Result<VerifiableKeyRow, sqlx::Error> {
    Ok(VerifiableKeyRow {
        id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        api_id: row.try_get(2)?,
        name: row.try_get(3)?,
        owner_id: row.try_get(4)?,
        meta: row.try_get(5)?,
        environment: row.try_get(6)?,
        enabled: row.try_get(7)?,
        expires_at: row.try_get(8)?,
        limited: row.try_get(9)?,
        ratelimit: ratelimit_of(
            row.try_get::<Option<String>, _>(10)?.as_deref(),
            row.try_get(11)?,
            row.try_get(12)?,
            row.try_get(13)?,
        ),
        effective_permissions: names(&row.try_get::<String, _>(14)?),
    })
}
