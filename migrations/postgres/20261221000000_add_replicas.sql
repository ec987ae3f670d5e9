-- Replicas (issue 28): each selfheal process serving from this database says it is alive here,
-- and a run or a verification in its hands names it (`held_by`, `verifying_by`), so that when
-- its heartbeat stops another can interrupt its runs and resume its verifications.
CREATE TABLE replicas (
    id           TEXT   NOT NULL PRIMARY KEY,
    host         TEXT   NOT NULL,
    pid          BIGINT NOT NULL,
    version      TEXT   NOT NULL,
    started_at   TEXT   NOT NULL,
    heartbeat_at TEXT   NOT NULL
);
ALTER TABLE heal_runs ADD COLUMN held_by TEXT;
ALTER TABLE heal_runs ADD COLUMN verifying_by TEXT;
