//! Operator actions: what the CLI does, and what `serve` does on an empty
//! database. Each returns the secrets it created; they are shown once and
//! stored only as hashes.

use crate::domain::audit::{self, Actor, Scope, Summary};
use crate::domain::{ids::new_id, secrets};
use crate::storage::{
    AccessKeyRow, InsertAccessKey, NewAccessKey, NewRole, NewRootKey, ProjectRow, Removal, RoleRow,
    RootKeyListRow, Storage, StorageError, WorkspaceRow,
};
use anyhow::{Context, bail};
use serde::Serialize;

/// What an operator asked for does not exist; the CLI exits 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

/// What an operator asked for conflicts with what exists, and nothing was
/// changed; the CLI exits 4.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Conflict(pub String);

fn no_workspace(id: &str) -> anyhow::Error {
    NotFound(format!("no workspace {id}")).into()
}

fn no_project(id: &str) -> anyhow::Error {
    NotFound(format!("no project {id}")).into()
}

/// Root keys carry this prefix, as Unkey's own do.
const ROOT_KEY_PREFIX: &str = "unkey";
const ROOT_KEY_BYTES: u8 = 16;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedRootKey {
    pub workspace_id: String,
    pub root_key_id: String,
    pub root_key: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedAccessKey {
    pub project_id: String,
    pub access_key_id: String,
    pub secret: String,
}

/// Creates a workspace and a root key with `*` for it.
pub async fn create_workspace(
    storage: &Storage,
    now_ms: i64,
    name: &str,
    root_key: Option<String>,
) -> anyhow::Result<IssuedRootKey> {
    if name.trim().is_empty() {
        bail!("a workspace needs a name");
    }
    let workspace_id = new_id("ws", now_ms);
    let record = audit::record(
        Actor::CLI,
        now_ms,
        "workspace.create",
        &workspace_id,
        Scope::Workspace(&workspace_id),
        Summary::new().set("name", name),
    );
    storage
        .create_workspace(&workspace_id, name, now_ms, &record)
        .await?;
    create_root_key(
        storage,
        now_ms,
        &workspace_id,
        vec!["*".to_string()],
        root_key,
    )
    .await
}

/// Creates a root key with exactly `permissions`. `key` fixes the key itself,
/// for scripted set-ups; otherwise a random one is made.
pub async fn create_root_key(
    storage: &Storage,
    now_ms: i64,
    workspace_id: &str,
    permissions: Vec<String>,
    key: Option<String>,
) -> anyhow::Result<IssuedRootKey> {
    if !storage.workspace_exists(workspace_id).await? {
        return Err(no_workspace(workspace_id));
    }
    let root_key = match key {
        Some(key) if key.trim().is_empty() => bail!("a root key cannot be empty"),
        Some(key) => key,
        None => secrets::new_unkey_key(Some(ROOT_KEY_PREFIX), ROOT_KEY_BYTES),
    };
    let root_key_id = new_id("key", now_ms);
    let record = audit::record(
        Actor::CLI,
        now_ms,
        "root_key.create",
        &root_key_id,
        Scope::Workspace(workspace_id),
        Summary::new().set("permissions", &permissions),
    );
    let key = NewRootKey {
        id: &root_key_id,
        workspace_id,
        hash: &secrets::hash(&root_key),
        start: &secrets::key_start(&root_key),
        permissions: &permissions,
        created_at: now_ms,
    };
    storage
        .create_root_key(&key, &record)
        .await
        .context("storing the root key (is this key already in use?)")?;
    Ok(IssuedRootKey {
        workspace_id: workspace_id.to_string(),
        root_key_id,
        root_key,
        permissions,
    })
}

pub async fn disable_workspace(
    storage: &Storage,
    now_ms: i64,
    workspace_id: &str,
) -> anyhow::Result<()> {
    set_workspace_enabled(storage, now_ms, workspace_id, false).await
}

/// Undoes [`disable_workspace`].
pub async fn enable_workspace(
    storage: &Storage,
    now_ms: i64,
    workspace_id: &str,
) -> anyhow::Result<()> {
    set_workspace_enabled(storage, now_ms, workspace_id, true).await
}

async fn set_workspace_enabled(
    storage: &Storage,
    now_ms: i64,
    workspace_id: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    let record = audit::record(
        Actor::CLI,
        now_ms,
        if enabled {
            "workspace.enable"
        } else {
            "workspace.disable"
        },
        workspace_id,
        Scope::Workspace(workspace_id),
        Summary::new().set("enabled", enabled),
    );
    if !storage
        .set_workspace_enabled(workspace_id, enabled, &record)
        .await?
    {
        return Err(no_workspace(workspace_id));
    }
    Ok(())
}

pub async fn list_workspaces(storage: &Storage) -> anyhow::Result<Vec<WorkspaceRow>> {
    Ok(storage.list_workspaces().await?)
}

pub async fn list_root_keys(
    storage: &Storage,
    workspace_id: &str,
) -> anyhow::Result<Vec<RootKeyListRow>> {
    if !storage.workspace_exists(workspace_id).await? {
        return Err(no_workspace(workspace_id));
    }
    Ok(storage.list_root_keys(workspace_id).await?)
}

/// Revokes a root key: every server on the database refuses it within the
/// change log's poll.
pub async fn revoke_root_key(storage: &Storage, now_ms: i64, id: &str) -> anyhow::Result<()> {
    // Storage fills in the key's workspace.
    let record = audit::record(
        Actor::CLI,
        now_ms,
        "root_key.revoke",
        id,
        Scope::Global,
        Summary::new(),
    );
    if !storage.revoke_root_key(id, now_ms, &record).await? {
        return Err(NotFound(format!("no live root key {id}")).into());
    }
    Ok(())
}

pub async fn list_roles(storage: &Storage, workspace_id: &str) -> anyhow::Result<Vec<RoleRow>> {
    if !storage.workspace_exists(workspace_id).await? {
        return Err(no_workspace(workspace_id));
    }
    Ok(storage.list_roles(workspace_id).await?)
}

/// Deletes a role. A role that keys hold is kept unless `force`; with it,
/// those keys lose the role's permissions.
pub async fn delete_role(
    storage: &Storage,
    now_ms: i64,
    workspace_id: &str,
    name: &str,
    force: bool,
) -> anyhow::Result<()> {
    let record = audit::record(
        Actor::CLI,
        now_ms,
        "role.delete",
        name,
        Scope::Workspace(workspace_id),
        Summary::new().set("force", force),
    );
    match storage
        .delete_role(workspace_id, name, force, &record)
        .await?
    {
        Removal::Removed => Ok(()),
        Removal::NotFound => Err(NotFound(format!(
            "no role {name} in workspace {workspace_id}"
        ))
        .into()),
        Removal::InUse(keys) => Err(Conflict(format!(
            "role {name} is held by {keys} key(s); --force deletes it and takes its permissions from them"
        ))
        .into()),
    }
}

pub async fn list_projects(storage: &Storage) -> anyhow::Result<Vec<ProjectRow>> {
    Ok(storage.list_projects().await?)
}

/// Every access key of a project, in creation order.
pub async fn list_access_keys(
    storage: &Storage,
    project_id: &str,
) -> anyhow::Result<Vec<AccessKeyRow>> {
    if !storage.project_exists(project_id).await? {
        return Err(no_project(project_id));
    }
    let mut keys: Vec<AccessKeyRow> = Vec::new();
    loop {
        let after = keys.last().map(|k| (k.created_at, k.id.as_str()));
        let page = storage.list_access_keys(project_id, after, 1000).await?;
        if page.is_empty() {
            return Ok(keys);
        }
        keys.extend(page);
    }
}

/// Deletes an access key; it and its tokens stop working. The project's
/// last key is kept unless `force`.
pub async fn revoke_access_key(
    storage: &Storage,
    now_ms: i64,
    project_id: &str,
    id: &str,
    force: bool,
) -> anyhow::Result<()> {
    if !storage.project_exists(project_id).await? {
        return Err(no_project(project_id));
    }
    let record = audit::record(
        Actor::CLI,
        now_ms,
        "access_key.revoke",
        id,
        Scope::Project(project_id),
        Summary::new().set("force", force),
    );
    match storage
        .revoke_access_key(project_id, id, force, &record)
        .await?
    {
        Removal::Removed => Ok(()),
        Removal::NotFound => {
            Err(NotFound(format!("no access key {id} in project {project_id}")).into())
        }
        Removal::InUse(_) => Err(Conflict(format!(
            "{id} is the project's last access key: deleting it locks the project's callers out; \
             --force deletes it anyway"
        ))
        .into()),
    }
}

/// Creates an access key for an existing project, for one whose keys were
/// lost. `limit` is the project's key limit.
pub async fn create_access_key(
    storage: &Storage,
    now_ms: i64,
    project_id: &str,
    display_name: Option<String>,
    limit: i64,
) -> anyhow::Result<IssuedAccessKey> {
    if !storage.project_exists(project_id).await? {
        return Err(no_project(project_id));
    }
    let access_key_id = uuid::Uuid::new_v4().to_string();
    let display_name = display_name.unwrap_or_else(|| format!("cli-{}", &access_key_id[..8]));
    if display_name.trim().is_empty() {
        bail!("a display name cannot be empty");
    }
    let secret = secrets::new_access_key_secret();
    let key = NewAccessKey {
        id: &access_key_id,
        project_id,
        display_name: &display_name,
        secret_hash: &secrets::hash(&secret),
        created_at: now_ms,
    };
    let record = access_key_created(now_ms, &key);
    match storage.insert_access_key(&key, limit, &record).await? {
        InsertAccessKey::Inserted => Ok(IssuedAccessKey {
            project_id: project_id.to_string(),
            access_key_id,
            secret,
        }),
        InsertAccessKey::NameTaken => Err(Conflict(format!(
            "an access key named {display_name:?} already exists in project {project_id}"
        ))
        .into()),
        InsertAccessKey::LimitReached => Err(Conflict(format!(
            "project {project_id} has {limit} access keys, its limit; revoke one first"
        ))
        .into()),
    }
}

/// Creates a role of a workspace; its permissions are created as needed.
pub async fn create_role(
    storage: &Storage,
    now_ms: i64,
    workspace_id: &str,
    name: &str,
    permissions: &[String],
) -> anyhow::Result<String> {
    if name.trim().is_empty() {
        bail!("a role needs a name");
    }
    if !storage.workspace_exists(workspace_id).await? {
        return Err(no_workspace(workspace_id));
    }
    let role_id = new_id("role", now_ms);
    let permission_ids: Vec<String> = permissions.iter().map(|_| new_id("perm", now_ms)).collect();
    let record = audit::record(
        Actor::CLI,
        now_ms,
        "role.create",
        &role_id,
        Scope::Workspace(workspace_id),
        Summary::new()
            .set("name", name)
            .set("permissions", permissions),
    );
    storage
        .create_role(
            &NewRole {
                workspace_id,
                role_id: &role_id,
                name,
                permissions,
                created_at: now_ms,
                permission_ids: &permission_ids,
            },
            &record,
        )
        .await
        .map_err(|e| match e {
            StorageError::Conflict(message) => Conflict(message).into(),
            other => anyhow::Error::from(other),
        })?;
    Ok(role_id)
}

/// The record of an access key the CLI created.
fn access_key_created(now_ms: i64, key: &NewAccessKey<'_>) -> crate::storage::AuditRecord {
    audit::record(
        Actor::CLI,
        now_ms,
        "access_key.create",
        key.id,
        Scope::Project(key.project_id),
        Summary::new().set("displayName", key.display_name),
    )
}

/// An access key given as `<id>:<secret>`, split at the first colon: a
/// secret may contain colons.
pub fn parse_access_key(credentials: &str) -> anyhow::Result<(String, String)> {
    match credentials.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_string(), secret.to_string()))
        }
        _ => bail!("an access key is given as <id>:<secret>"),
    }
}

/// Creates a project and its first access key. `access_key` fixes the key's
/// id and secret, for scripted set-ups.
pub async fn create_project(
    storage: &Storage,
    now_ms: i64,
    name: &str,
    access_key: Option<(String, String)>,
) -> anyhow::Result<IssuedAccessKey> {
    let project_id = uuid::Uuid::new_v4().to_string();
    let record = audit::record(
        Actor::CLI,
        now_ms,
        "project.create",
        &project_id,
        Scope::Project(&project_id),
        Summary::new().set("name", name),
    );
    storage
        .create_project(&project_id, name, now_ms, &record)
        .await?;
    let (access_key_id, secret) = access_key.unwrap_or_else(|| {
        (
            uuid::Uuid::new_v4().to_string(),
            secrets::new_access_key_secret(),
        )
    });
    let key = NewAccessKey {
        id: &access_key_id,
        project_id: &project_id,
        display_name: "default",
        secret_hash: &secrets::hash(&secret),
        created_at: now_ms,
    };
    // A new project has no keys, so no limit can stop its first one.
    let record = access_key_created(now_ms, &key);
    let written = storage
        .insert_access_key(&key, i64::MAX, &record)
        .await
        .context("storing the access key (is this id already in use?)")?;
    if written != InsertAccessKey::Inserted {
        bail!("could not store the access key: {written:?}");
    }
    Ok(IssuedAccessKey {
        project_id,
        access_key_id,
        secret,
    })
}

/// What a first start created.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub unkey: IssuedRootKey,
    pub sinch: IssuedAccessKey,
}

/// On an empty database, creates the `default` workspace with a `*` root key
/// and the `default` project with one access key. Returns `None` otherwise.
pub async fn bootstrap(
    storage: &Storage,
    now_ms: i64,
    root_key: Option<String>,
    access_key: Option<(String, String)>,
) -> anyhow::Result<Option<Bootstrap>> {
    if !storage.is_empty().await? {
        return Ok(None);
    }
    let unkey = create_workspace(storage, now_ms, "default", root_key).await?;
    let sinch = create_project(storage, now_ms, "default", access_key).await?;
    Ok(Some(Bootstrap { unkey, sinch }))
}

/// What [`seed_benchmark`] made: the ids and keys the benchmark drives.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchmarkSeed {
    pub api_id: String,
    /// The project of the bootstrap access key.
    pub project_id: String,
    /// A key without limits.
    pub hot_key: String,
    /// A key with (practically endless) remaining uses: every use is a write.
    pub remaining_key: String,
    /// A key with a per-key token bucket, `fast`.
    pub ratelimited_key: String,
    /// A key with a per-key token bucket, `consistent`.
    pub consistent_key: String,
    /// How many more keys are in the keys file.
    pub keys: usize,
}

/// Fills a database for the benchmark: bootstraps it if empty, then adds an
/// api with three special keys and `count` plain ones, written to
/// `keys_file`, one per line. Keys go in through the bulk insert path, in
/// one transaction.
pub async fn seed_benchmark(
    storage: &Storage,
    now_ms: i64,
    root_key: String,
    access_key: (String, String),
    count: usize,
    keys_file: &std::path::Path,
) -> anyhow::Result<BenchmarkSeed> {
    let access_key_id = access_key.0.clone();
    bootstrap(storage, now_ms, Some(root_key.clone()), Some(access_key)).await?;
    let project_id = storage
        .find_access_key(&access_key_id)
        .await?
        .context("the bootstrap access key is not in this database: seed an empty one")?
        .project_id;
    let root = storage
        .find_root_key(&secrets::hash(&root_key))
        .await?
        .context("the bootstrap root key is not in this database: seed an empty one")?;
    let api_id = new_id("api", now_ms);
    let scope = Scope::Workspace(&root.workspace_id);
    let record = |action, target: &str| {
        audit::record(Actor::CLI, now_ms, action, target, scope, Summary::new())
    };
    storage
        .create_api(
            &api_id,
            &root.workspace_id,
            "bench",
            now_ms,
            &record("api.create", &api_id),
        )
        .await?;

    let special = |remaining: Option<i64>, ratelimit: Option<crate::storage::KeyRatelimit>| {
        let key = secrets::new_unkey_key(Some("bench"), 16);
        (new_id("key", now_ms), key, remaining, ratelimit)
    };
    let hot = special(None, None);
    let remaining = special(Some(i64::MAX / 2), None);
    let bucket = crate::storage::KeyRatelimit {
        kind: crate::storage::RatelimitKind::Fast,
        limit: 1_000_000_000,
        refill_rate: 1_000_000_000,
        refill_interval: 1000,
    };
    let ratelimited = special(None, Some(bucket));
    let consistent = special(
        None,
        Some(crate::storage::KeyRatelimit {
            kind: crate::storage::RatelimitKind::Consistent,
            ..bucket
        }),
    );
    for (id, key, remaining, ratelimit) in [&hot, &remaining, &ratelimited, &consistent] {
        let (hash, start) = (secrets::hash(key), secrets::key_start(key));
        let new_key = crate::storage::NewKey {
            remaining: *remaining,
            ratelimit: *ratelimit,
            ..crate::storage::NewKey::plain(id, &root.workspace_id, &api_id, &hash, &start, now_ms)
        };
        storage
            .insert_key(&new_key, &record("key.create", id))
            .await?;
    }

    let plain: Vec<(String, String, [u8; 32], String)> = (0..count)
        .map(|_| {
            let key = secrets::new_unkey_key(Some("bench"), 16);
            let hash = secrets::hash(&key);
            let start = secrets::key_start(&key);
            (new_id("key", now_ms), key, hash, start)
        })
        .collect();
    let rows: Vec<crate::storage::NewKey<'_>> = plain
        .iter()
        .map(|(id, _, hash, start)| {
            crate::storage::NewKey::plain(id, &root.workspace_id, &api_id, hash, start, now_ms)
        })
        .collect();
    // The bulk path for benchmarks writes no audit record per key.
    storage.insert_keys(&rows).await?;
    // Nobody listens yet: the change log need not hold a creation per key.
    storage.prune_changes(i64::MAX).await?;
    let lines: String = plain
        .iter()
        .map(|(_, key, _, _)| format!("{key}\n"))
        .collect();
    std::fs::write(keys_file, lines).with_context(|| format!("writing {}", keys_file.display()))?;

    Ok(BenchmarkSeed {
        api_id,
        project_id,
        hot_key: hot.1,
        remaining_key: remaining.1,
        ratelimited_key: ratelimited.1,
        consistent_key: consistent.1,
        keys: count,
    })
}
