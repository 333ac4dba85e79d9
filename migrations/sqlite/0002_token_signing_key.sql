-- The key that signs the OAuth2 access tokens keyward issues for Sinch
-- access keys. Made on first start; one row. It signs, so it cannot be
-- stored as a hash: the database is the one place it lives, and it is never
-- logged or returned.
CREATE TABLE token_signing_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    secret      BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
