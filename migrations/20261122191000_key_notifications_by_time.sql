-- A notification's dedup key becomes (newest_starts_at, payload_sha256): the newest startsAt
-- among its alerts, then the SHA-256 of its bytes. The hash alone put every new notification
-- on a random leaf of its unique index (a page of WAL per notification in a group commit);
-- the same bytes again still carry the same alerts, so the key still makes them one row, and
-- new notifications, whose newest alert started about now, land at the index's right edge.
-- Rows stored before this migration get the key from their raw payload, rounded to the
-- millisecond by SQLite where intake truncates: a retry of such a delivery may in rare cases
-- become a second notification row (its alerts are still deduplicated by their own key).
CREATE TABLE notifications_new (
    id               INTEGER PRIMARY KEY,
    newest_starts_at TEXT    NOT NULL DEFAULT '',  -- '' for a notification without alerts
    payload_sha256   TEXT    NOT NULL,
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
    payload          TEXT    NOT NULL,         -- raw JSON, kept for replay and audit
    UNIQUE (newest_starts_at, payload_sha256)  -- the same bytes delivered again are one row
);
INSERT INTO notifications_new (id, newest_starts_at, payload_sha256, received_at, last_received_at,
                               deliveries, source, receiver, status, group_key, external_url,
                               alert_count, truncated_alerts, payload)
SELECT n.id,
       coalesce((SELECT max(strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(a.value, '$.startsAt')))
                 FROM json_each(n.payload, '$.alerts') a
                 WHERE json_valid(n.payload)), ''),
       n.payload_sha256, n.received_at, n.last_received_at, n.deliveries, n.source, n.receiver,
       n.status, n.group_key, n.external_url, n.alert_count, n.truncated_alerts, n.payload
FROM notifications n;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_truncated ON notifications (truncated_alerts) WHERE truncated_alerts > 0;
