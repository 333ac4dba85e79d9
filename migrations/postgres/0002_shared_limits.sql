-- Rate limits that must agree across nodes (a key's `consistent` bucket,
-- and `ratelimits.limit` with `async: false`) are kept here; the others
-- stay in each node's memory.

-- A key's token bucket, locked while a node takes from it.
CREATE TABLE key_buckets (
    key_id           TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    bucket_limit     BIGINT NOT NULL,
    refill_rate      BIGINT NOT NULL,
    refill_interval  BIGINT NOT NULL,
    tokens           BIGINT NOT NULL,
    last_refill      BIGINT NOT NULL
);

-- Fixed windows of `ratelimits.limit`, by a SHA-256 of the namespace, the
-- identifier, the limit and the duration (identifiers are chosen by callers,
-- at any length), and the window's number since the epoch.
CREATE TABLE ratelimit_windows (
    counter        BYTEA NOT NULL,
    window_number  BIGINT NOT NULL,
    used           BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    PRIMARY KEY (counter, window_number)
);
CREATE INDEX ratelimit_windows_expiry ON ratelimit_windows (expires_at);
