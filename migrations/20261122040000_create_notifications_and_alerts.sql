-- The durable inbox: every Alertmanager notification as received, and every alert episode
-- (fingerprint + startsAt) with its latest known state.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY,
    payload_sha256   TEXT    NOT NULL UNIQUE,  -- the same bytes delivered again are one row
    received_at      TEXT    NOT NULL,
    last_received_at TEXT    NOT NULL,
    deliveries       INTEGER NOT NULL DEFAULT 1,
    source           TEXT    NOT NULL CHECK (source IN ('webhook', 'reconcile')),
    receiver         TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    group_key        TEXT    NOT NULL,
    external_url     TEXT,
    alert_count      INTEGER NOT NULL,
    truncated_alerts INTEGER NOT NULL DEFAULT 0 CHECK (truncated_alerts >= 0),
    payload          TEXT    NOT NULL          -- raw JSON, kept for replay and audit
);
CREATE INDEX notifications_received_at ON notifications (received_at);
CREATE INDEX notifications_truncated ON notifications (truncated_alerts) WHERE truncated_alerts > 0;

CREATE TABLE alerts (
    id                   INTEGER PRIMARY KEY,
    fingerprint          TEXT    NOT NULL,
    starts_at            TEXT    NOT NULL,     -- UTC, millisecond precision: part of the key
    status               TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    alertname            TEXT    NOT NULL,
    severity             TEXT,
    instance             TEXT,
    labels               TEXT    NOT NULL,     -- JSON object
    annotations          TEXT    NOT NULL,     -- JSON object
    ends_at              TEXT,                 -- NULL while Alertmanager sends 0001-01-01
    generator_url        TEXT,
    group_key            TEXT,
    receiver             TEXT,
    source               TEXT    NOT NULL CHECK (source IN ('webhook', 'reconcile')),
    first_seen_at        TEXT    NOT NULL,
    last_seen_at         TEXT    NOT NULL,
    resolved_at          TEXT,                 -- when we learned it resolved
    deliveries           INTEGER NOT NULL DEFAULT 1,
    last_notification_id INTEGER REFERENCES notifications (id),
    UNIQUE (fingerprint, starts_at)
);
CREATE INDEX alerts_status_id ON alerts (status, id);
CREATE INDEX alerts_alertname_id ON alerts (alertname, id);
CREATE INDEX alerts_starts_at ON alerts (starts_at);
