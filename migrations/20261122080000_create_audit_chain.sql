-- Tamper evidence for the audit log: a hash chain kept beside audit_events (which stays
-- insert-only). The server seals new events in id order:
--   hash(n) = sha256(json [hash(n-1), id, at, actor, action, target, detail, source])
-- `selfheal audit verify` recomputes it and names the first event that no longer matches.
CREATE TABLE audit_chain (
    event_id INTEGER PRIMARY KEY REFERENCES audit_events (id),
    hash     TEXT    NOT NULL
);

CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;

CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
