//! Keys: create, read, update, delete, remaining uses and listing.

use super::key_cache::hash_key;
use super::permissions::Query;
use super::{Error, Result, RootKey, Unkey};
use crate::domain::audit::{self, Scope, Summary};
use crate::domain::{ids::new_id, secrets};
use crate::storage::{
    DailyCounts, ImportKeys, InsertKey, KeyPage, KeyPatch, KeyRow, NewKey, RemainingChange,
};
pub use crate::storage::{KeyRatelimit, RatelimitKind, Refill, RefillInterval};

pub const MIN_BYTE_LENGTH: i64 = 16;
pub const MAX_BYTE_LENGTH: i64 = 255;
pub const MAX_PREFIX_CHARS: usize = 8;
pub const MAX_PAGE_SIZE: u64 = 100;

/// A key made elsewhere, for `migrations.createKeys`: what createKey asks
/// for (its `byte_length` unused), the key's SHA-256 and its visible start.
#[derive(Debug, Clone)]
pub struct ImportKey {
    pub key: CreateKey,
    /// SHA-256 of the key, in standard base64 with padding: what keyward
    /// itself stores for the keys it makes.
    pub hash: String,
    pub start: String,
}

impl CreateKey {
    /// The row that stores a key with these settings.
    fn new_key<'a>(
        &'a self,
        id: &'a str,
        workspace_id: &'a str,
        hash: &'a [u8],
        start: &'a str,
        created_at: i64,
    ) -> NewKey<'a> {
        NewKey {
            name: self.name.as_deref(),
            owner_id: self.owner_id.as_deref(),
            meta: self.meta.as_ref().map(meta_json),
            environment: self.environment.as_deref(),
            enabled: self.enabled,
            expires_at: self.expires,
            remaining: self.remaining,
            refill: self.refill,
            ratelimit: self.ratelimit,
            roles: &self.roles,
            ..NewKey::plain(id, workspace_id, &self.api_id, hash, start, created_at)
        }
    }
}

/// At most this many keys in one `migrations.createKeys` call.
pub const MAX_IMPORT_BATCH: usize = 100;

/// What createKey (and the legacy `POST /v1/keys`) asks for.
#[derive(Debug, Clone)]
pub struct CreateKey {
    pub api_id: String,
    pub prefix: Option<String>,
    pub name: Option<String>,
    pub byte_length: i64,
    pub owner_id: Option<String>,
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub expires: Option<i64>,
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
    pub ratelimit: Option<KeyRatelimit>,
    pub roles: Vec<String>,
    pub enabled: bool,
    pub environment: Option<String>,
}

pub struct CreatedKey {
    pub key_id: String,
    /// The key itself: shown this once, stored only as a hash.
    pub key: String,
}

/// What updateKey asks for: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateKey {
    pub name: Option<Option<String>>,
    pub owner_id: Option<Option<String>>,
    pub meta: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    pub expires: Option<Option<i64>>,
    pub remaining: Option<Option<i64>>,
    pub refill: Option<Option<Refill>>,
    pub ratelimit: Option<Option<KeyRatelimit>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemainingOp {
    Increment,
    Decrement,
    Set,
}

impl RemainingOp {
    fn verb(self) -> &'static str {
        match self {
            RemainingOp::Increment => "increment",
            RemainingOp::Decrement => "decrement",
            RemainingOp::Set => "set",
        }
    }
}

/// A page of keys.
pub struct KeyList {
    pub keys: Vec<KeyRow>,
    pub total: i64,
    /// Present only when more keys follow.
    pub cursor: Option<String>,
}

fn key_not_found(key_id: &str) -> Error {
    Error::NotFound(format!("key {key_id} not found"))
}

/// A refill as the audit log shows it.
fn refill_json(r: Refill) -> serde_json::Value {
    serde_json::json!({"interval": r.interval.as_str(), "amount": r.amount})
}

/// A rate limit as the audit log shows it.
fn ratelimit_json(r: KeyRatelimit) -> serde_json::Value {
    serde_json::json!({
        "type": r.kind.as_str(),
        "limit": r.limit,
        "refillRate": r.refill_rate,
        "refillInterval": r.refill_interval,
    })
}

impl CreateKey {
    /// The settings a new key got, for its audit record.
    fn summary(&self) -> Summary {
        Summary::new()
            .set("apiId", &self.api_id)
            .set_some("prefix", self.prefix.as_ref())
            .set_some("name", self.name.as_ref())
            .set_some("ownerId", self.owner_id.as_ref())
            .set_some("meta", self.meta.as_ref().map(audit::field_names))
            .set_some("expires", self.expires)
            .set_some("remaining", self.remaining)
            .set_some("refill", self.refill.map(refill_json))
            .set_some("ratelimit", self.ratelimit.map(ratelimit_json))
            .set_some("roles", (!self.roles.is_empty()).then_some(&self.roles))
            .set("enabled", self.enabled)
            .set_some("environment", self.environment.as_ref())
    }
}

impl UpdateKey {
    /// The fields an update changed (a cleared one as null), for its audit
    /// record.
    fn summary(&self) -> Summary {
        Summary::new()
            .set_some("name", self.name.as_ref())
            .set_some("ownerId", self.owner_id.as_ref())
            .set_some(
                "meta",
                self.meta
                    .as_ref()
                    .map(|m| m.as_ref().map(audit::field_names)),
            )
            .set_some("expires", self.expires)
            .set_some("remaining", self.remaining)
            .set_some("refill", self.refill.map(|r| r.map(refill_json)))
            .set_some("ratelimit", self.ratelimit.map(|r| r.map(ratelimit_json)))
            .set_some("enabled", self.enabled)
    }
}

fn meta_json(meta: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(meta.clone()).to_string()
}

impl Unkey {
    pub async fn create_key(
        &self,
        root: &RootKey,
        request: CreateKey,
        request_id: &str,
    ) -> Result<CreatedKey> {
        root.require_on("api", &request.api_id, "create_key")?;
        self.create_key_without_permission_check(root, request, request_id)
            .await
    }

    /// The legacy `POST /v1/keys`: any root key of the workspace may create.
    pub async fn create_key_legacy(
        &self,
        root: &RootKey,
        request: CreateKey,
        request_id: &str,
    ) -> Result<CreatedKey> {
        self.create_key_without_permission_check(root, request, request_id)
            .await
    }

    async fn create_key_without_permission_check(
        &self,
        root: &RootKey,
        request: CreateKey,
        request_id: &str,
    ) -> Result<CreatedKey> {
        if !(MIN_BYTE_LENGTH..=MAX_BYTE_LENGTH).contains(&request.byte_length) {
            return Err(Error::Invalid(format!(
                "byteLength: must be between {MIN_BYTE_LENGTH} and {MAX_BYTE_LENGTH}, got {}",
                request.byte_length
            )));
        }
        check_key_rules(&request)?;
        // The api must exist in the caller's workspace.
        self.find_api(root, &request.api_id).await?;

        let now = self.now();
        let key_id = new_id("key", now);
        let byte_length = u8::try_from(request.byte_length).unwrap_or(u8::MAX);
        let key = secrets::new_unkey_key(request.prefix.as_deref(), byte_length);
        let record = audit::record(
            root.acting(request_id),
            now,
            "key.create",
            &key_id,
            Scope::Workspace(&root.workspace_id),
            request.summary().set("byteLength", request.byte_length),
        );
        let hash = secrets::hash(&key);
        // Before the insert: the index may hold a key that does not exist,
        // never miss one that does.
        self.index.add(&hash);
        let inserted = self
            .storage
            .insert_key(
                &request.new_key(
                    &key_id,
                    &root.workspace_id,
                    &hash,
                    &secrets::key_start(&key),
                    now,
                ),
                &record,
            )
            .await?;
        match inserted {
            InsertKey::Inserted => Ok(CreatedKey { key_id, key }),
            InsertKey::MissingRoles(missing) => Err(Error::Invalid(format!(
                "roles: these roles do not exist in the workspace; create them first (keyward role create): {}",
                missing.join(", ")
            ))),
        }
    }

    /// Imports keys made elsewhere, all or none, in one transaction. Answers
    /// their ids in item order.
    pub async fn import_keys(
        &self,
        root: &RootKey,
        items: Vec<ImportKey>,
        request_id: &str,
    ) -> Result<Vec<String>> {
        if items.len() > MAX_IMPORT_BATCH {
            return Err(Error::Invalid(format!(
                "at most {MAX_IMPORT_BATCH} keys per call, got {}",
                items.len()
            )));
        }
        let mut api_ids: Vec<&str> = items.iter().map(|i| i.key.api_id.as_str()).collect();
        api_ids.sort_unstable();
        api_ids.dedup();
        for api_id in &api_ids {
            root.require_on("api", api_id, "create_key")?;
        }
        let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            check_key_rules(&item.key).map_err(|e| Error::Invalid(format!("[{index}].{e}")))?;
            let hash = secrets::decode_hash(&item.hash).ok_or_else(|| {
                Error::Invalid(format!(
                    "[{index}].hash.value: not a SHA-256 digest in standard base64 with padding (44 characters)"
                ))
            })?;
            if let Some(first) = hashes.iter().position(|h| *h == hash) {
                return Err(Error::Conflict(format!(
                    "[{index}].hash: the same key as item {first}"
                )));
            }
            hashes.push(hash);
        }
        for api_id in &api_ids {
            self.find_api(root, api_id).await?;
        }

        let now = self.now();
        let ids: Vec<String> = items.iter().map(|_| new_id("key", now)).collect();
        let keys: Vec<NewKey<'_>> = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let (id, hash) = (&ids[index], &hashes[index]);
                let workspace_id = &root.workspace_id;
                item.key.new_key(id, workspace_id, hash, &item.start, now)
            })
            .collect();
        let records: Vec<_> = items
            .iter()
            .zip(&ids)
            .map(|(item, id)| {
                audit::record(
                    root.acting(request_id),
                    now,
                    "key.migrate",
                    id,
                    Scope::Workspace(&root.workspace_id),
                    item.key.summary(),
                )
            })
            .collect();
        self.index.add_all(&hashes);
        let imported = match self.storage.import_keys(&keys, &records).await {
            // Another writer inserted one of these hashes after the check.
            Err(e) if e.is_unique_violation() => {
                return Err(Error::Conflict(
                    "a key with one of these hashes was created meanwhile".into(),
                ));
            }
            other => other?,
        };
        match imported {
            ImportKeys::Inserted => Ok(ids),
            ImportKeys::MissingRoles { index, roles } => Err(Error::Invalid(format!(
                "[{index}].roles: these roles do not exist in the workspace; create them first (keyward role create): {}",
                roles.join(", ")
            ))),
            ImportKeys::HashExists { index } => Err(Error::Conflict(format!(
                "[{index}].hash: a key with this hash exists already"
            ))),
        }
    }

    /// A live key of the caller's workspace, with any due refill applied.
    pub async fn get_key(&self, root: &RootKey, key_id: &str) -> Result<KeyRow> {
        let key = self.find_key(root, key_id).await?;
        root.require_on("api", &key.api_id, "read_key")?;
        if key.refill.is_some() {
            let now = self.now();
            self.storage
                .refill_if_due(key_id, now, super::refill_boundaries(now))
                .await?;
            return self.find_key(root, key_id).await;
        }
        Ok(key)
    }

    pub async fn delete_key(&self, root: &RootKey, key_id: &str, request_id: &str) -> Result<()> {
        let key = self.find_key(root, key_id).await?;
        root.require_on("api", &key.api_id, "delete_key")?;
        let now = self.now();
        let record = audit::record(
            root.acting(request_id),
            now,
            "key.delete",
            key_id,
            Scope::Workspace(&root.workspace_id),
            Summary::new().set("apiId", &key.api_id),
        );
        if !self
            .storage
            .delete_key(&root.workspace_id, key_id, now, &record)
            .await?
        {
            return Err(key_not_found(key_id));
        }
        self.cache.invalidate(hash_key(&key.hash));
        Ok(())
    }

    pub async fn update_key(
        &self,
        root: &RootKey,
        key_id: &str,
        update: UpdateKey,
        request_id: &str,
    ) -> Result<()> {
        let key = self.find_key(root, key_id).await?;
        root.require_on("api", &key.api_id, "update_key")?;
        let remaining_after = update.remaining.unwrap_or(key.remaining);
        if matches!(update.refill, Some(Some(_))) && remaining_after.is_none() {
            return Err(Error::Invalid(
                "refill: cannot refill a key with unlimited uses; set remaining too".into(),
            ));
        }
        // A key whose remaining becomes unlimited keeps no refill.
        let refill = match (update.refill, update.remaining) {
            (None, Some(None)) if key.refill.is_some() => Some(None),
            (refill, _) => refill,
        };
        let patch = KeyPatch {
            name: update.name.as_ref().map(Option::as_deref),
            owner_id: update.owner_id.as_ref().map(Option::as_deref),
            meta: update.meta.as_ref().map(|m| m.as_ref().map(meta_json)),
            expires_at: update.expires,
            remaining: update.remaining,
            refill,
            ratelimit: update.ratelimit,
            enabled: update.enabled,
        };
        let now = self.now();
        let record = audit::record(
            root.acting(request_id),
            now,
            "key.update",
            key_id,
            Scope::Workspace(&root.workspace_id),
            update.summary(),
        );
        if !self
            .storage
            .update_key(&root.workspace_id, key_id, &patch, now, &record)
            .await?
        {
            return Err(key_not_found(key_id));
        }
        self.cache.invalidate(hash_key(&key.hash));
        Ok(())
    }

    /// Changes a key's remaining uses; returns the new value (`None`: unlimited).
    pub async fn update_remaining(
        &self,
        root: &RootKey,
        key_id: &str,
        op: RemainingOp,
        value: Option<i64>,
        request_id: &str,
    ) -> Result<Option<i64>> {
        let key = self.find_key(root, key_id).await?;
        root.require_on("api", &key.api_id, "update_key")?;
        let change = match (op, value) {
            (RemainingOp::Set, value) => RemainingChange::Set(value),
            (op, None) => {
                return Err(Error::Invalid(format!(
                    "value: cannot {} a key by null",
                    op.verb()
                )));
            }
            (op, Some(_)) if key.remaining.is_none() => {
                return Err(Error::Invalid(format!(
                    "op: cannot {} a key with unlimited remaining uses; use set instead",
                    op.verb()
                )));
            }
            (RemainingOp::Increment, Some(value)) => RemainingChange::Add(value),
            (RemainingOp::Decrement, Some(value)) => RemainingChange::Add(value.saturating_neg()),
        };
        let record = audit::record(
            root.acting(request_id),
            self.now(),
            "key.update_remaining",
            key_id,
            Scope::Workspace(&root.workspace_id),
            Summary::new().set("op", op.verb()).set("value", value),
        );
        let remaining = self
            .storage
            .change_remaining(&root.workspace_id, key_id, change, &record)
            .await?
            .ok_or_else(|| key_not_found(key_id))?;
        self.cache.invalidate(hash_key(&key.hash));
        Ok(remaining)
    }

    /// A page of an api's live keys, ordered by id, after `cursor`.
    pub async fn list_keys(
        &self,
        root: &RootKey,
        api_id: &str,
        limit: u64,
        cursor: Option<&str>,
        owner_id: Option<&str>,
    ) -> Result<KeyList> {
        root.require(&Query::Or(vec![
            Query::Permission("*".into()),
            Query::And(vec![
                Query::any_of([
                    "api.*.read_key".to_string(),
                    format!("api.{api_id}.read_key"),
                ]),
                Query::any_of([
                    "api.*.read_api".to_string(),
                    format!("api.{api_id}.read_api"),
                ]),
            ]),
        ]))?;
        let limit = checked_page_size(limit)?;
        let api = self.find_api(root, api_id).await?;
        // One more than asked tells whether a next page exists.
        let page = KeyPage {
            after: cursor,
            owner_id,
            limit: limit + 1,
            offset: 0,
        };
        let mut keys = self.storage.list_keys(&api.id, &page).await?;
        let more = keys.len() as i64 > limit;
        keys.truncate(limit as usize);
        let cursor = if more {
            keys.last().map(|k| k.id.clone())
        } else {
            None
        };
        let total = self.storage.count_keys(&api.id).await?;
        Ok(KeyList {
            keys,
            total,
            cursor,
        })
    }

    /// The legacy `GET /v1/apis/{apiId}/keys`: any root key, paged by offset.
    pub async fn list_keys_legacy(
        &self,
        root: &RootKey,
        api_id: &str,
        limit: u64,
        offset: i64,
        owner_id: Option<&str>,
    ) -> Result<KeyList> {
        let limit = checked_page_size(limit)?;
        if offset < 0 {
            return Err(Error::Invalid("offset: must be 0 or more".into()));
        }
        let api = self.find_api(root, api_id).await?;
        let page = KeyPage {
            after: None,
            owner_id,
            limit,
            offset,
        };
        let keys = self.storage.list_keys(&api.id, &page).await?;
        let total = self.storage.count_keys(&api.id).await?;
        Ok(KeyList {
            keys,
            total,
            cursor: None,
        })
    }

    /// Daily verification counts of one key, or of all keys of an owner.
    pub async fn get_verifications(
        &self,
        root: &RootKey,
        key_id: Option<&str>,
        owner_id: Option<&str>,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<DailyCounts>> {
        let keys: Vec<(String, String)> = match (key_id, owner_id) {
            (Some(key_id), _) => {
                let key = self.find_key(root, key_id).await?;
                vec![(key.id, key.api_id)]
            }
            (None, Some(owner_id)) => {
                let keys = self
                    .storage
                    .key_ids_by_owner(&root.workspace_id, owner_id)
                    .await?;
                if keys.is_empty() {
                    return Err(Error::NotFound(format!("no keys with ownerId {owner_id}")));
                }
                keys
            }
            (None, None) => {
                return Err(Error::Invalid("keyId or ownerId must be provided".into()));
            }
        };
        let mut per_api: Vec<&str> = keys.iter().map(|(_, api_id)| api_id.as_str()).collect();
        per_api.sort_unstable();
        per_api.dedup();
        root.require(&Query::Or(vec![
            Query::Permission("*".into()),
            Query::Permission("api.*.read_key".into()),
            Query::And(
                per_api
                    .iter()
                    .map(|api_id| Query::Permission(format!("api.{api_id}.read_key")))
                    .collect(),
            ),
        ]))?;
        // What the verify path has tallied so far counts too.
        self.flush().await?;
        let key_ids: Vec<String> = keys.into_iter().map(|(id, _)| id).collect();
        Ok(self
            .storage
            .verification_counts(
                &root.workspace_id,
                &key_ids,
                start.unwrap_or(0),
                end.unwrap_or(i64::MAX),
            )
            .await?)
    }

    /// A live key of the caller's workspace; another workspace's is a 404.
    async fn find_key(&self, root: &RootKey, key_id: &str) -> Result<KeyRow> {
        self.storage
            .find_key(&root.workspace_id, key_id)
            .await?
            .ok_or_else(|| key_not_found(key_id))
    }
}

fn checked_page_size(limit: u64) -> Result<i64> {
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(Error::Invalid(format!(
            "limit: must be between 1 and {MAX_PAGE_SIZE}, got {limit}"
        )));
    }
    Ok(limit as i64)
}

/// The rules of a key's settings that its schema cannot state.
fn check_key_rules(request: &CreateKey) -> Result<()> {
    if request
        .prefix
        .as_ref()
        .is_some_and(|p| p.chars().count() > MAX_PREFIX_CHARS)
    {
        return Err(Error::Invalid(format!(
            "prefix: must be at most {MAX_PREFIX_CHARS} characters"
        )));
    }
    if request.remaining.is_some_and(|r| r <= 0) {
        return Err(Error::Invalid("remaining: must be greater than 0".into()));
    }
    if request.refill.is_some() && request.remaining.is_none() {
        return Err(Error::Invalid(
            "refill: requires remaining to be set".into(),
        ));
    }
    Ok(())
}
