-- Users who may log in to the dashboard, and the append-only audit log of who did what.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE audit_events (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor  TEXT NOT NULL,            -- a username, 'cli', or 'system'
    action TEXT NOT NULL,            -- dotted verb, e.g. 'auth.login', 'user.add'
    target TEXT,                     -- what the action was about, e.g. a username
    detail TEXT,                     -- free text, never a secret
    source TEXT                      -- where from: a client address, 'cli', 'system'
);
CREATE INDEX audit_events_at ON audit_events (at);

-- The audit log is append-only: no code path may rewrite history.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
