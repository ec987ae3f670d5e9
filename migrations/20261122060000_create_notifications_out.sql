-- Outgoing notifications (run finished, not fixed, breaker opened) and how their delivery went.
CREATE TABLE outbound_notifications (
    id       INTEGER PRIMARY KEY,
    at       TEXT    NOT NULL,
    event    TEXT    NOT NULL CHECK (event IN ('run_finished', 'not_fixed', 'breaker_open')),
    url      TEXT    NOT NULL,          -- without user info or query string
    run_id   INTEGER REFERENCES heal_runs (id),
    rule     TEXT,
    target   TEXT,
    status   TEXT    NOT NULL CHECK (status IN ('delivered', 'failed')),
    attempts INTEGER NOT NULL,
    error    TEXT
);
CREATE INDEX outbound_notifications_at ON outbound_notifications (at);

-- The Alertmanager silence that covers a run while it is in flight.
ALTER TABLE heal_runs ADD COLUMN silence_id TEXT;
