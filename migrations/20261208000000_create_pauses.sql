-- The kill switch: healing paused everywhere (scope '*') or for one rule (scope = its name).
-- While a pause holds, new episodes it covers are decided `paused`, and the worker claims no
-- run it covers: queued runs wait, they are not lost. Resuming deletes the row.
CREATE TABLE pauses (
    scope     TEXT NOT NULL PRIMARY KEY CHECK (length(scope) BETWEEN 1 AND 200),
    reason    TEXT NOT NULL CHECK (length(trim(reason)) BETWEEN 1 AND 500),
    paused_by TEXT NOT NULL,
    paused_at TEXT NOT NULL
) WITHOUT ROWID;
