-- When a root key was last used, to the minute: `keyward root-key list`
-- shows it. Written in batches, off the request path.
ALTER TABLE root_keys ADD COLUMN last_used_at INTEGER;
