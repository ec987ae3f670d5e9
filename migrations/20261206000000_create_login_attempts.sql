-- The login throttle's own tables (they were counted from the audit log, read before the
-- password check and written after it, so parallel guesses were not counted; issue 25).
-- An attempt is reserved (`pending`) in the same statement that checks the limits, before the
-- password is checked, then settled. `username` is the canonical (lower-case) name tried, ''
-- when it is not a valid user name (a password typed into the name field is never stored).
CREATE TABLE login_attempts (
    id       INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    source   TEXT NOT NULL DEFAULT '',
    at       TEXT NOT NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ('pending', 'failed', 'succeeded'))
);
CREATE INDEX login_attempts_username ON login_attempts (username, at);
CREATE INDEX login_attempts_source ON login_attempts (source, at);

-- Refused (throttled) attempts, counted per name, address and minute; each closed minute becomes
-- one audit event with its count, so an unauthenticated client cannot write an audit row per
-- request.
CREATE TABLE login_throttles (
    username TEXT    NOT NULL,
    source   TEXT    NOT NULL,
    minute   TEXT    NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (username, source, minute)
) WITHOUT ROWID;
