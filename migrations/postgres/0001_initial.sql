-- keyward's schema for both APIs on PostgreSQL (13 or newer): the same
-- tables as migrations/sqlite/, in one migration. Times are unix
-- milliseconds (UTC). Secrets are stored only as SHA-256 digests.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE root_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    hash          BYTEA NOT NULL UNIQUE,
    start         TEXT NOT NULL,
    name          TEXT,
    created_at    BIGINT NOT NULL,
    deleted_at    BIGINT,
    last_used_at  BIGINT
);
CREATE INDEX root_keys_workspace ON root_keys (workspace_id);

CREATE TABLE root_key_permissions (
    root_key_id  TEXT NOT NULL REFERENCES root_keys (id) ON DELETE CASCADE,
    permission   TEXT NOT NULL,
    PRIMARY KEY (root_key_id, permission)
);

CREATE TABLE apis (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE INDEX apis_workspace ON apis (workspace_id);

CREATE TABLE keys (
    id                         TEXT PRIMARY KEY,
    workspace_id               TEXT NOT NULL REFERENCES workspaces (id),
    api_id                     TEXT NOT NULL REFERENCES apis (id),
    hash                       BYTEA NOT NULL UNIQUE,
    start                      TEXT NOT NULL,
    name                       TEXT,
    owner_id                   TEXT,
    meta                       TEXT,
    environment                TEXT,
    enabled                    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at                 BIGINT NOT NULL,
    expires_at                 BIGINT,
    deleted_at                 BIGINT,
    remaining                  BIGINT,
    refill_interval            TEXT CHECK (refill_interval IN ('daily', 'monthly')),
    refill_amount              BIGINT,
    last_refill_at             BIGINT,
    ratelimit_type             TEXT CHECK (ratelimit_type IN ('fast', 'consistent')),
    ratelimit_limit            BIGINT,
    ratelimit_refill_rate      BIGINT,
    ratelimit_refill_interval  BIGINT
);
CREATE INDEX keys_api ON keys (api_id, id);
CREATE INDEX keys_owner ON keys (workspace_id, owner_id);

CREATE TABLE roles (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE permissions (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE role_permissions (
    role_id        TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id  TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE key_roles (
    key_id   TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, role_id)
);

CREATE TABLE key_permissions (
    key_id         TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    permission_id  TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, permission_id)
);

CREATE TABLE ratelimit_namespaces (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE verification_counts (
    key_id          TEXT NOT NULL REFERENCES keys (id),
    day             BIGINT NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    success         BIGINT NOT NULL DEFAULT 0,
    rate_limited    BIGINT NOT NULL DEFAULT 0,
    usage_exceeded  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects (id),
    display_name  TEXT NOT NULL,
    secret_hash   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (project_id, display_name)
);
CREATE INDEX access_keys_project ON access_keys (project_id, created_at, id);

-- The key that signs access tokens, shared by every node: see the SQLite
-- migration 0002.
CREATE TABLE token_signing_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    secret      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Changes reach every node through NOTIFY on channel keyward_changes, sent
-- by these triggers in the writing transaction: PostgreSQL delivers it to
-- every listening session once (and only if) that transaction commits. The
-- payload is `<kind>:<entity>`, as in SQLite's change log.
CREATE FUNCTION keyward_notify(kind TEXT, entity TEXT) RETURNS VOID AS $$
BEGIN
    PERFORM pg_notify('keyward_changes', kind || ':' || entity);
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION keys_changed() RETURNS TRIGGER AS $$
BEGIN
    IF OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
       OR OLD.enabled IS DISTINCT FROM NEW.enabled
       OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
       OR OLD.name IS DISTINCT FROM NEW.name
       OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
       OR OLD.meta IS DISTINCT FROM NEW.meta
       OR OLD.environment IS DISTINCT FROM NEW.environment
       OR (OLD.remaining IS NULL) <> (NEW.remaining IS NULL)
       OR OLD.ratelimit_type IS DISTINCT FROM NEW.ratelimit_type
       OR OLD.ratelimit_limit IS DISTINCT FROM NEW.ratelimit_limit
       OR OLD.ratelimit_refill_rate IS DISTINCT FROM NEW.ratelimit_refill_rate
       OR OLD.ratelimit_refill_interval IS DISTINCT FROM NEW.ratelimit_refill_interval
    THEN
        PERFORM keyward_notify('key', upper(encode(NEW.hash, 'hex')));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER keys_changed AFTER UPDATE ON keys
    FOR EACH ROW EXECUTE FUNCTION keys_changed();

CREATE FUNCTION all_keys_changed() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('keys', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER key_roles_removed AFTER DELETE ON key_roles
    FOR EACH STATEMENT EXECUTE FUNCTION all_keys_changed();
CREATE TRIGGER key_permissions_removed AFTER DELETE ON key_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION all_keys_changed();
CREATE TRIGGER role_permissions_removed AFTER DELETE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION all_keys_changed();

CREATE FUNCTION workspaces_changed() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('workspace', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workspaces_changed AFTER UPDATE OF enabled ON workspaces
    FOR EACH ROW EXECUTE FUNCTION workspaces_changed();

CREATE FUNCTION access_keys_changed() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('access_key', COALESCE(NEW.id, OLD.id));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_keys_changed AFTER UPDATE OR DELETE ON access_keys
    FOR EACH ROW EXECUTE FUNCTION access_keys_changed();

CREATE FUNCTION root_keys_revoked() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('root_key', upper(encode(NEW.hash, 'hex')));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER root_keys_revoked AFTER UPDATE OF deleted_at ON root_keys
    FOR EACH ROW EXECUTE FUNCTION root_keys_revoked();

CREATE FUNCTION root_key_permissions_removed() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('root_key', upper(encode(r.hash, 'hex')))
       FROM root_keys r WHERE r.id = OLD.root_key_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER root_key_permissions_removed AFTER DELETE ON root_key_permissions
    FOR EACH ROW EXECUTE FUNCTION root_key_permissions_removed();
