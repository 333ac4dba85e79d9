-- The audit log (issue 14): one row per change, written in the change's own
-- transaction. It holds ids, names and the fields that changed, never a
-- secret or a hash. Rows older than --audit-retention-days are pruned.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms         INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    workspace_id  TEXT,
    project_id    TEXT,
    request_id    TEXT,
    summary       TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id) WHERE workspace_id IS NOT NULL;
CREATE INDEX audit_log_project ON audit_log (project_id, id) WHERE project_id IS NOT NULL;
