-- API tokens: for scripts and CI, sent as `Authorization: Bearer <token>` to the /api/
-- endpoints, each with a role. Only the SHA-256 of a token is stored (tokens are 256 random
-- bits: a slow hash adds nothing); the token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_sha256 TEXT    NOT NULL UNIQUE,
    created_by   TEXT    NOT NULL,
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    revoked_at   TEXT
);
