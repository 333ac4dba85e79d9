//! Unkey keys: one row each, soft-deleted, with their roles and permissions,
//! and the spends of their remaining uses.

use super::{AuditRecord, Result};
use async_trait::async_trait;

/// A per-key rate limit's kind: `fast` may be decided by one node alone,
/// `consistent` must agree across nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatelimitKind {
    Fast,
    Consistent,
}

/// A per-key token bucket: `limit` tokens at most, `refill_rate` more every
/// `refill_interval` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRatelimit {
    pub kind: RatelimitKind,
    pub limit: i64,
    pub refill_rate: i64,
    pub refill_interval: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillInterval {
    Daily,
    Monthly,
}

/// Remaining uses reset to `amount` every interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    pub interval: RefillInterval,
    pub amount: i64,
}

/// A live key, as reads return it.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub hash: Vec<u8>,
    pub start: String,
    pub name: Option<String>,
    pub owner_id: Option<String>,
    /// A JSON object.
    pub meta: Option<String>,
    pub environment: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
    pub last_refill_at: Option<i64>,
    pub ratelimit: Option<KeyRatelimit>,
    /// The roles attached to the key, by name, sorted.
    pub roles: Vec<String>,
    /// The permissions attached to the key directly, sorted.
    pub permissions: Vec<String>,
}

/// A key found by its hash: what verification needs.
#[derive(Debug, Clone)]
pub struct VerifiableKeyRow {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub name: Option<String>,
    pub owner_id: Option<String>,
    /// A JSON object.
    pub meta: Option<String>,
    pub environment: Option<String>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// Whether the key has a remaining-uses limit.
    pub limited: bool,
    pub ratelimit: Option<KeyRatelimit>,
    /// Direct and through roles.
    pub effective_permissions: Vec<String>,
}

/// A key to insert.
#[derive(Debug)]
pub struct NewKey<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub api_id: &'a str,
    pub hash: &'a [u8],
    pub start: &'a str,
    pub name: Option<&'a str>,
    pub owner_id: Option<&'a str>,
    pub meta: Option<String>,
    pub environment: Option<&'a str>,
    pub enabled: bool,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
    pub ratelimit: Option<KeyRatelimit>,
    pub roles: &'a [String],
}

impl<'a> NewKey<'a> {
    /// An enabled key with nothing set but its identity.
    pub fn plain(
        id: &'a str,
        workspace_id: &'a str,
        api_id: &'a str,
        hash: &'a [u8],
        start: &'a str,
        created_at: i64,
    ) -> NewKey<'a> {
        NewKey {
            id,
            workspace_id,
            api_id,
            hash,
            start,
            name: None,
            owner_id: None,
            meta: None,
            environment: None,
            enabled: true,
            created_at,
            expires_at: None,
            remaining: None,
            refill: None,
            ratelimit: None,
            roles: &[],
        }
    }
}

/// A change to a key: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct KeyPatch<'a> {
    pub name: Option<Option<&'a str>>,
    pub owner_id: Option<Option<&'a str>>,
    pub meta: Option<Option<String>>,
    pub expires_at: Option<Option<i64>>,
    pub remaining: Option<Option<i64>>,
    pub refill: Option<Option<Refill>>,
    pub ratelimit: Option<Option<KeyRatelimit>>,
    pub enabled: Option<bool>,
}

/// The starts of the current refill periods, in unix ms: a refill is due when
/// a key's last refill came before the one of its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefillBoundaries {
    pub day_start: i64,
    pub month_start: i64,
}

/// The outcome of inserting a key.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertKey {
    Inserted,
    /// These role names do not exist in the workspace.
    MissingRoles(Vec<String>),
}

/// The outcome of importing a batch of keys: all inserted, or none, because
/// of the item at `index`.
#[derive(Debug, PartialEq, Eq)]
pub enum ImportKeys {
    Inserted,
    /// These role names do not exist in the workspace.
    MissingRoles {
        index: usize,
        roles: Vec<String>,
    },
    /// A key with this item's hash exists already (deleted ones included).
    HashExists {
        index: usize,
    },
}

/// The outcome of spending one use of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// Spent; this many uses remain.
    Spent(i64),
    /// Nothing left to spend.
    Exhausted,
}

/// A change of a key's remaining uses.
#[derive(Debug, Clone, Copy)]
pub enum RemainingChange {
    Add(i64),
    Set(Option<i64>),
}

/// Which keys of an api to list.
#[derive(Debug)]
pub struct KeyPage<'a> {
    pub after: Option<&'a str>,
    pub owner_id: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// A key's columns as both backends return them; `roles` and `permissions`
/// are JSON arrays of names.
#[derive(sqlx::FromRow)]
pub(super) struct StoredKey {
    pub(super) id: String,
    pub(super) workspace_id: String,
    pub(super) api_id: String,
    pub(super) hash: Vec<u8>,
    pub(super) start: String,
    pub(super) name: Option<String>,
    pub(super) owner_id: Option<String>,
    pub(super) meta: Option<String>,
    pub(super) environment: Option<String>,
    pub(super) enabled: bool,
    pub(super) created_at: i64,
    pub(super) expires_at: Option<i64>,
    pub(super) remaining: Option<i64>,
    pub(super) refill_interval: Option<String>,
    pub(super) refill_amount: Option<i64>,
    pub(super) last_refill_at: Option<i64>,
    pub(super) ratelimit_type: Option<String>,
    pub(super) ratelimit_limit: Option<i64>,
    pub(super) ratelimit_refill_rate: Option<i64>,
    pub(super) ratelimit_refill_interval: Option<i64>,
    pub(super) roles: String,
    pub(super) permissions: String,
}

/// Sorted names from a JSON array.
pub(super) fn names(json: &str) -> Vec<String> {
    let mut names: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    names.sort();
    names
}

/// A stored rate limit, when all four columns are set.
pub(super) fn ratelimit_of(
    kind: Option<&str>,
    limit: Option<i64>,
    refill_rate: Option<i64>,
    refill_interval: Option<i64>,
) -> Option<KeyRatelimit> {
    Some(KeyRatelimit {
        kind: kind
            .and_then(RatelimitKind::parse)
            .unwrap_or(RatelimitKind::Fast),
        limit: limit?,
        refill_rate: refill_rate?,
        refill_interval: refill_interval?,
    })
}

impl From<StoredKey> for KeyRow {
    fn from(row: StoredKey) -> KeyRow {
        let refill = match (
            row.refill_interval
                .as_deref()
                .and_then(RefillInterval::parse),
            row.refill_amount,
        ) {
            (Some(interval), Some(amount)) => Some(Refill { interval, amount }),
            _ => None,
        };
        KeyRow {
            ratelimit: ratelimit_of(
                row.ratelimit_type.as_deref(),
                row.ratelimit_limit,
                row.ratelimit_refill_rate,
                row.ratelimit_refill_interval,
            ),
            refill,
            roles: names(&row.roles),
            permissions: names(&row.permissions),
            id: row.id,
            workspace_id: row.workspace_id,
            api_id: row.api_id,
            hash: row.hash,
            start: row.start,
            name: row.name,
            owner_id: row.owner_id,
            meta: row.meta,
            environment: row.environment,
            enabled: row.enabled,
            created_at: row.created_at,
            expires_at: row.expires_at,
            remaining: row.remaining,
            last_refill_at: row.last_refill_at,
        }
    }
}

/// Appends the statement that inserts keys' own rows (their roles are rows
/// of their own) to `insert`, for either backend: one row per key.
pub(super) fn push_insert_keys<'a, DB>(insert: &mut sqlx::QueryBuilder<DB>, keys: &'a [NewKey<'a>])
where
    DB: sqlx::Database,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a [u8]: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<&'a str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    insert.push(
        "INSERT INTO keys (id, workspace_id, api_id, hash, start, name, owner_id, meta, environment,
            enabled, created_at, expires_at, remaining, refill_interval, refill_amount, last_refill_at,
            ratelimit_type, ratelimit_limit, ratelimit_refill_rate, ratelimit_refill_interval) ",
    );
    insert.push_values(keys, |mut row, key| {
        let (refill, ratelimit) = (key.refill, key.ratelimit);
        row.push_bind(key.id)
            .push_bind(key.workspace_id)
            .push_bind(key.api_id)
            .push_bind(key.hash)
            .push_bind(key.start)
            .push_bind(key.name)
            .push_bind(key.owner_id)
            .push_bind(key.meta.as_deref())
            .push_bind(key.environment)
            .push_bind(key.enabled)
            .push_bind(key.created_at)
            .push_bind(key.expires_at)
            .push_bind(key.remaining)
            .push_bind(refill.map(|r| r.interval.as_str()))
            .push_bind(refill.map(|r| r.amount))
            .push_bind(refill.map(|_| key.created_at))
            .push_bind(ratelimit.map(|r| r.kind.as_str()))
            .push_bind(ratelimit.map(|r| r.limit))
            .push_bind(ratelimit.map(|r| r.refill_rate))
            .push_bind(ratelimit.map(|r| r.refill_interval));
    });
}

/// The SQL of a key patch, for either backend: `QueryBuilder` writes each
/// one's placeholders.
pub(super) fn patch_query<'a, DB>(
    workspace_id: &'a str,
    key_id: &'a str,
    patch: &'a KeyPatch<'a>,
    now_ms: i64,
) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<&'a str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut update = sqlx::QueryBuilder::new("UPDATE keys SET id = id");
    if let Some(name) = patch.name {
        update.push(", name = ").push_bind(name);
    }
    if let Some(owner_id) = patch.owner_id {
        update.push(", owner_id = ").push_bind(owner_id);
    }
    if let Some(meta) = &patch.meta {
        update.push(", meta = ").push_bind(meta.clone());
    }
    if let Some(expires_at) = patch.expires_at {
        update.push(", expires_at = ").push_bind(expires_at);
    }
    if let Some(remaining) = patch.remaining {
        update.push(", remaining = ").push_bind(remaining);
    }
    if let Some(refill) = patch.refill {
        update
            .push(", refill_interval = ")
            .push_bind(refill.map(|r| r.interval.as_str()))
            .push(", refill_amount = ")
            .push_bind(refill.map(|r| r.amount))
            .push(", last_refill_at = ")
            .push_bind(refill.map(|_| now_ms));
    }
    if let Some(ratelimit) = patch.ratelimit {
        update
            .push(", ratelimit_type = ")
            .push_bind(ratelimit.map(|r| r.kind.as_str()))
            .push(", ratelimit_limit = ")
            .push_bind(ratelimit.map(|r| r.limit))
            .push(", ratelimit_refill_rate = ")
            .push_bind(ratelimit.map(|r| r.refill_rate))
            .push(", ratelimit_refill_interval = ")
            .push_bind(ratelimit.map(|r| r.refill_interval));
    }
    if let Some(enabled) = patch.enabled {
        update.push(", enabled = ").push_bind(enabled);
    }
    update
        .push(" WHERE id = ")
        .push_bind(key_id)
        .push(" AND workspace_id = ")
        .push_bind(workspace_id)
        .push(" AND deleted_at IS NULL");
    update
}

/// The SQL of a page of an api's keys, for either backend; `select` is the
/// backend's `SELECT <key columns> FROM keys k`.
pub(super) fn page_query<'a, DB>(
    select: &'static str,
    api_id: &'a str,
    page: &'a KeyPage<'a>,
) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::QueryBuilder::new(select);
    query.push(" WHERE k.deleted_at IS NULL AND k.api_id = ");
    query.push_bind(api_id);
    if let Some(after) = page.after {
        query.push(" AND k.id > ").push_bind(after);
    }
    if let Some(owner_id) = page.owner_id {
        query.push(" AND k.owner_id = ").push_bind(owner_id);
    }
    query.push(" ORDER BY k.id LIMIT ").push_bind(page.limit);
    query.push(" OFFSET ").push_bind(page.offset);
    query
}

#[async_trait]
pub trait KeyStore {
    /// Inserts a key, with its roles and its audit record in the same
    /// transaction.
    async fn insert_key(&self, key: &NewKey<'_>, audit: &AuditRecord) -> Result<InsertKey>;

    /// Inserts keys with their roles in one transaction, or none of them;
    /// `audits` are recorded in it.
    async fn import_keys(&self, keys: &[NewKey<'_>], audits: &[AuditRecord]) -> Result<ImportKeys>;

    /// Inserts many keys without roles in one transaction: the bulk path for
    /// seeding benchmarks.
    async fn insert_keys(&self, keys: &[NewKey<'_>]) -> Result<()>;

    /// A live key of the workspace.
    async fn find_key(&self, workspace_id: &str, key_id: &str) -> Result<Option<KeyRow>>;

    /// A live key by the hash of its secret: the verify path's one read.
    async fn find_key_by_hash(&self, hash: &[u8]) -> Result<Option<VerifiableKeyRow>>;

    /// Up to `limit` live keys whose hash sorts after `after`, in hash
    /// order, each with its hash: pages of every key, for the key index.
    async fn live_keys_after(
        &self,
        after: &[u8],
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, VerifiableKeyRow)>>;

    /// Applies a patch to a live key. Returns false when there is no such key.
    async fn update_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        patch: &KeyPatch<'_>,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<bool>;

    /// Soft-deletes a live key. Returns false when there is no such key.
    async fn delete_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<bool>;

    /// Spends one use of a key, refilling it first if a refill is due.
    /// Answered only once the spend is durable; concurrent spends never
    /// overspend.
    async fn spend_key(&self, key_id: &str, now_ms: i64, refill: RefillBoundaries)
    -> Result<Spend>;

    /// Applies a due refill to a key, so that reads see it.
    async fn refill_if_due(
        &self,
        key_id: &str,
        now_ms: i64,
        refill: RefillBoundaries,
    ) -> Result<()>;

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
    ) -> Result<Option<Option<i64>>>;

    /// A page of an api's live keys, ordered by id.
    async fn list_keys(&self, api_id: &str, page: &KeyPage<'_>) -> Result<Vec<KeyRow>>;

    /// How many live keys an api has.
    async fn count_keys(&self, api_id: &str) -> Result<i64>;

    /// (id, api id) of the workspace's live keys that have this owner.
    async fn key_ids_by_owner(
        &self,
        workspace_id: &str,
        owner_id: &str,
    ) -> Result<Vec<(String, String)>>;
}

impl RatelimitKind {
    /// As stored: `fast` or `consistent`.
    pub fn as_str(self) -> &'static str {
        match self {
            RatelimitKind::Fast => "fast",
            RatelimitKind::Consistent => "consistent",
        }
    }

    pub fn parse(stored: &str) -> Option<RatelimitKind> {
        match stored {
            "fast" => Some(RatelimitKind::Fast),
            "consistent" => Some(RatelimitKind::Consistent),
            _ => None,
        }
    }
}

impl RefillInterval {
    /// As stored: `daily` or `monthly`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefillInterval::Daily => "daily",
            RefillInterval::Monthly => "monthly",
        }
    }

    pub fn parse(stored: &str) -> Option<RefillInterval> {
        match stored {
            "daily" => Some(RefillInterval::Daily),
            "monthly" => Some(RefillInterval::Monthly),
            _ => None,
        }
    }
}
