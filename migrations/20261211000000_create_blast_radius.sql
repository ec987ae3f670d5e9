-- Blast-radius limits: each run the rules queue records its rule's blast scope (the values of
-- the scope labels, e.g. `job="api"`; '' for the whole rule), so the heals of a scope within
-- the window are counted by an index. When a scope trips, its trip is stored until an operator
-- resets it; meanwhile the scope's heals are parked for approval.
ALTER TABLE heal_runs ADD COLUMN blast_scope TEXT;
CREATE INDEX heal_runs_blast_scope ON heal_runs (rule, blast_scope, created_at) WHERE blast_scope IS NOT NULL;

CREATE TABLE blast_trips (
    id         INTEGER PRIMARY KEY,
    rule       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    tripped_at TEXT NOT NULL,
    detail     TEXT NOT NULL,
    reset_at   TEXT,
    reset_by   TEXT,
    CHECK ((reset_at IS NULL) = (reset_by IS NULL))
);
-- At most one trip in force per (rule, scope).
CREATE UNIQUE INDEX blast_trips_in_force ON blast_trips (rule, scope) WHERE reset_at IS NULL;
CREATE INDEX blast_trips_rule_scope ON blast_trips (rule, scope, reset_at);
