-- The change log. Every write to something a keyward process may hold in a
-- cache leaves a row here, in the same transaction, whoever wrote it: this
-- process, another `serve` on the same database, or the CLI. Each process
-- reads the rows after the last one it saw, every 50 ms, and drops what it
-- cached of them. Triggers write the rows, so no write path can forget.
--
-- kind        entity
-- key         the key's hash (hex): a key changed or was deleted
-- keys        (empty): roles or permissions changed; any key may be affected
-- workspace   the workspace id: it was enabled or disabled
-- access_key  the access key id: renamed or deleted (its tokens with it)
-- root_key    the root key's hash (hex): revoked, or its permissions changed
CREATE TABLE changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    entity      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
        DEFAULT (CAST(strftime('%s', 'now') AS INTEGER) * 1000)
);

-- What verification caches of a key. Spends only change `remaining` (never
-- whether it is set), so they leave no rows.
CREATE TRIGGER keys_changed AFTER UPDATE ON keys
WHEN OLD.deleted_at IS NOT NEW.deleted_at
  OR OLD.enabled IS NOT NEW.enabled
  OR OLD.expires_at IS NOT NEW.expires_at
  OR OLD.name IS NOT NEW.name
  OR OLD.owner_id IS NOT NEW.owner_id
  OR OLD.meta IS NOT NEW.meta
  OR OLD.environment IS NOT NEW.environment
  OR (OLD.remaining IS NULL) <> (NEW.remaining IS NULL)
  OR OLD.ratelimit_type IS NOT NEW.ratelimit_type
  OR OLD.ratelimit_limit IS NOT NEW.ratelimit_limit
  OR OLD.ratelimit_refill_rate IS NOT NEW.ratelimit_refill_rate
  OR OLD.ratelimit_refill_interval IS NOT NEW.ratelimit_refill_interval
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('key', hex(NEW.hash));
END;

-- Permissions are only added to a role as it is created, when no key holds
-- it yet; taking them away reaches keys that hold it.
CREATE TRIGGER key_roles_removed AFTER DELETE ON key_roles
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('keys', '');
END;

CREATE TRIGGER key_permissions_removed AFTER DELETE ON key_permissions
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('keys', '');
END;

CREATE TRIGGER role_permissions_removed AFTER DELETE ON role_permissions
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('keys', '');
END;

CREATE TRIGGER workspaces_changed AFTER UPDATE OF enabled ON workspaces
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('workspace', NEW.id);
END;

CREATE TRIGGER access_keys_changed AFTER UPDATE ON access_keys
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('access_key', NEW.id);
END;

CREATE TRIGGER access_keys_deleted AFTER DELETE ON access_keys
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('access_key', OLD.id);
END;

CREATE TRIGGER root_keys_revoked AFTER UPDATE OF deleted_at ON root_keys
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('root_key', hex(NEW.hash));
END;

CREATE TRIGGER root_key_permissions_removed AFTER DELETE ON root_key_permissions
BEGIN
    INSERT INTO changes (kind, entity)
    SELECT 'root_key', hex(hash) FROM root_keys WHERE id = OLD.root_key_id;
END;
