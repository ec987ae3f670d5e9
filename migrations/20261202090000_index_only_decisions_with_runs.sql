-- `decisions_run` indexes only the decisions that queued a run. Every other decision (a skip:
-- no rule, cooldown, refused labels, ...) has no run and was an index entry that no lookup
-- ever reads; under a webhook storm the inbox writer stores one per alert, so that was a
-- fourth B-tree insert per decision in the single writer's commit. Lookups by run
-- (`run_id = ?`, and SQLite's own child-key scan when a run is deleted) imply
-- `run_id IS NOT NULL`, so the partial index still serves them.
DROP INDEX decisions_run;
CREATE INDEX decisions_run ON decisions (run_id) WHERE run_id IS NOT NULL;
