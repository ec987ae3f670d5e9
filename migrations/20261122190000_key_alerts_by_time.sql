-- The episode key becomes (starts_at, fingerprint) instead of (fingerprint, starts_at).
-- Alertmanager's fingerprints are hashes: keyed by them first, every new alert lands on a
-- random leaf of the unique index, and a group commit of 100 alerts rewrote about 100 pages of
-- it (800 KB of WAL). New alerts start about now, so keyed by time first they all land at the
-- right edge: a page or two per commit. Lookups name both columns (ON CONFLICT, the engine),
-- which either order serves. SQLite cannot change a table's UNIQUE constraint in place, so the
-- table is rebuilt (SQLite's documented procedure; `db::migrate` runs migrations with foreign
-- keys off and checks them all afterwards).
CREATE TABLE alerts_new (
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
    decided_at           TEXT,
    UNIQUE (starts_at, fingerprint)
);
INSERT INTO alerts_new (id, fingerprint, starts_at, status, alertname, severity, instance, labels,
                        annotations, ends_at, generator_url, group_key, receiver, source,
                        first_seen_at, last_seen_at, resolved_at, deliveries, last_notification_id,
                        decided_at)
SELECT id, fingerprint, starts_at, status, alertname, severity, instance, labels, annotations,
       ends_at, generator_url, group_key, receiver, source, first_seen_at, last_seen_at,
       resolved_at, deliveries, last_notification_id, decided_at
FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;

CREATE INDEX alerts_status_id ON alerts (status, id);
CREATE INDEX alerts_alertname_id ON alerts (alertname, id);
CREATE INDEX alerts_undecided ON alerts (id) WHERE decided_at IS NULL;
CREATE INDEX alerts_resolved_last_seen ON alerts (last_seen_at) WHERE status = 'resolved';
CREATE INDEX alerts_last_notification ON alerts (last_notification_id);

CREATE TRIGGER alert_counts_insert AFTER INSERT ON alerts
BEGIN
    UPDATE alert_counts SET n = n + 1 WHERE status = new.status;
END;

CREATE TRIGGER alert_counts_update AFTER UPDATE OF status ON alerts
WHEN old.status <> new.status
BEGIN
    UPDATE alert_counts SET n = n - 1 WHERE status = old.status;
    UPDATE alert_counts SET n = n + 1 WHERE status = new.status;
END;

CREATE TRIGGER alert_counts_delete AFTER DELETE ON alerts
BEGIN
    UPDATE alert_counts SET n = n - 1 WHERE status = old.status;
END;
