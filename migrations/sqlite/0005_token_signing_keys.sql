-- Access tokens are signed with Ed25519 keys that rotate (issue 15): each
-- key has a `kid`, one is current (retired_at NULL), and a retired key keeps
-- checking the tokens it signed until they have expired. The private key
-- (PKCS#8) signs, so it cannot be stored as a hash: the database is the one
-- place it lives, and it is never logged or returned. The HS256 secret goes:
-- tokens it signed are answered as expired, and clients fetch new ones.
CREATE TABLE token_signing_keys (
    kid          TEXT PRIMARY KEY,
    private_key  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER
);
CREATE UNIQUE INDEX token_signing_keys_one_current
    ON token_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

DROP TABLE token_signing_key;

-- A rotation reaches every process through the change log (0003).
CREATE TRIGGER token_signing_keys_added AFTER INSERT ON token_signing_keys
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('signing_keys', '');
END;
