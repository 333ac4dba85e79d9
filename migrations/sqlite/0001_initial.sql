-- keyward's schema for both APIs. Times are unix milliseconds (UTC).
-- Secrets are stored only as SHA-256 digests (32-byte BLOBs).

-------------------------------------------------------------------------------
-- Unkey v1
-------------------------------------------------------------------------------

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at  INTEGER NOT NULL
);

-- Root keys authenticate callers of the Unkey API for one workspace.
CREATE TABLE root_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    hash          BLOB NOT NULL UNIQUE,
    start         TEXT NOT NULL,
    name          TEXT,
    created_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);
CREATE INDEX root_keys_workspace ON root_keys (workspace_id);

CREATE TABLE root_key_permissions (
    root_key_id  TEXT NOT NULL REFERENCES root_keys (id) ON DELETE CASCADE,
    permission   TEXT NOT NULL,
    PRIMARY KEY (root_key_id, permission)
) WITHOUT ROWID;

CREATE TABLE apis (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);
CREATE INDEX apis_workspace ON apis (workspace_id);

CREATE TABLE keys (
    id                         TEXT PRIMARY KEY,
    workspace_id               TEXT NOT NULL REFERENCES workspaces (id),
    api_id                     TEXT NOT NULL REFERENCES apis (id),
    hash                       BLOB NOT NULL UNIQUE,
    start                      TEXT NOT NULL,
    name                       TEXT,
    owner_id                   TEXT,
    meta                       TEXT,     -- a JSON object
    environment                TEXT,
    enabled                    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at                 INTEGER NOT NULL,
    expires_at                 INTEGER,
    deleted_at                 INTEGER,  -- soft delete
    -- usage limit: NULL remaining means unlimited
    remaining                  INTEGER,
    refill_interval            TEXT CHECK (refill_interval IN ('daily', 'monthly')),
    refill_amount              INTEGER,
    last_refill_at             INTEGER,
    -- per-key token bucket
    ratelimit_type             TEXT CHECK (ratelimit_type IN ('fast', 'consistent')),
    ratelimit_limit            INTEGER,
    ratelimit_refill_rate      INTEGER,
    ratelimit_refill_interval  INTEGER
);
-- listKeys pages through an api's keys by id.
CREATE INDEX keys_api ON keys (api_id, id);
CREATE INDEX keys_owner ON keys (workspace_id, owner_id);

-- Roles and permissions are per workspace; keys get them by name.
CREATE TABLE roles (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE permissions (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE role_permissions (
    role_id        TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id  TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
) WITHOUT ROWID;

CREATE TABLE key_roles (
    key_id   TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, role_id)
) WITHOUT ROWID;

CREATE TABLE key_permissions (
    key_id         TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    permission_id  TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, permission_id)
) WITHOUT ROWID;

CREATE TABLE ratelimit_namespaces (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

-- Verification outcomes per key and UTC day, flushed in batches.
CREATE TABLE verification_counts (
    key_id          TEXT NOT NULL REFERENCES keys (id),
    day             INTEGER NOT NULL,  -- unix ms of the day's 00:00 UTC
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    success         INTEGER NOT NULL DEFAULT 0,
    rate_limited    INTEGER NOT NULL DEFAULT 0,
    usage_exceeded  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;

-------------------------------------------------------------------------------
-- Sinch Access Keys
-------------------------------------------------------------------------------

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,  -- a UUID, the Basic auth user name
    project_id    TEXT NOT NULL REFERENCES projects (id),
    display_name  TEXT NOT NULL,
    secret_hash   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (project_id, display_name)
);
-- List order: creation time, then id.
CREATE INDEX access_keys_project ON access_keys (project_id, created_at, id);
