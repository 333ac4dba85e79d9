-- Rotating Ed25519 keys sign access tokens: see the SQLite migration 0005.
CREATE TABLE token_signing_keys (
    kid          TEXT PRIMARY KEY,
    private_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT
);
CREATE UNIQUE INDEX token_signing_keys_one_current
    ON token_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

DROP TABLE token_signing_key;

CREATE FUNCTION signing_keys_changed() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('signing_keys', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER token_signing_keys_added AFTER INSERT ON token_signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION signing_keys_changed();
