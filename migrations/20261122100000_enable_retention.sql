-- Retention: old history may now be pruned, in bounded batches, by `[retention]`.

-- Audit events leave the database only through an export: every pruned event is first written,
-- with its chain hash, to a file recorded here. `last_hash` is the chain hash of event
-- `up_to_event_id`: verification (and sealing, once nothing older is left) resumes from it.
CREATE TABLE audit_exports (
    id             INTEGER PRIMARY KEY,
    from_event_id  INTEGER NOT NULL,
    up_to_event_id INTEGER NOT NULL UNIQUE,
    events         INTEGER NOT NULL CHECK (events > 0),
    file           TEXT    NOT NULL,
    sha256         TEXT    NOT NULL,
    last_hash      TEXT    NOT NULL,
    at             TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (up_to_event_id >= from_event_id)
);

CREATE TRIGGER audit_exports_no_update BEFORE UPDATE ON audit_exports
BEGIN
    SELECT RAISE(ABORT, 'audit_exports is append-only');
END;

CREATE TRIGGER audit_exports_no_delete BEFORE DELETE ON audit_exports
BEGIN
    SELECT RAISE(ABORT, 'audit_exports is append-only');
END;

-- Deleting stays refused, except for events an export covers. Updates stay refused always.
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_exports WHERE old.id <= up_to_event_id)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: only exported events may be pruned');
END;

DROP TRIGGER audit_chain_no_delete;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
WHEN NOT EXISTS (SELECT 1 FROM audit_exports WHERE old.event_id <= up_to_event_id)
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only: only exported events may be pruned');
END;

-- A run's output is pruned before the run itself; the run then says since when it is gone.
ALTER TABLE heal_runs ADD COLUMN output_pruned_at TEXT;
-- Runs whose output is still kept, by finish time: what the output step walks.
CREATE INDEX heal_runs_output_kept ON heal_runs (finished_at) WHERE output_pruned_at IS NULL;

-- Resolved episodes by their last sighting: what the alert step walks, oldest first.
CREATE INDEX alerts_resolved_last_seen ON alerts (last_seen_at) WHERE status = 'resolved';

-- Every foreign key a prune deletes the parent of needs an index on the child's column:
-- without one SQLite checks each deleted parent row with a full scan of the child table.
CREATE INDEX alerts_last_notification ON alerts (last_notification_id);
CREATE INDEX heal_runs_alert ON heal_runs (alert_id);
CREATE INDEX decisions_run ON decisions (run_id);
CREATE INDEX outbound_notifications_run ON outbound_notifications (run_id);
