-- The healing engine: runs (the durable queue), their output, every decision with its reason,
-- and operator resets of the per-target circuit breaker.
CREATE TABLE heal_runs (
    id               INTEGER PRIMARY KEY,
    alert_id         INTEGER REFERENCES alerts (id),
    rule             TEXT    NOT NULL,
    playbook         TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    limit_host       TEXT,
    mode             TEXT    NOT NULL CHECK (mode IN ('auto', 'approval', 'dry-run')),
    status           TEXT    NOT NULL CHECK (status IN ('queued', 'awaiting_approval', 'running', 'succeeded',
                                                        'failed', 'timed_out', 'cancelled', 'interrupted')),
    verification     TEXT    CHECK (verification IN ('pending', 'verified', 'not_fixed', 'inconclusive', 'skipped')),
    requested_by     TEXT    NOT NULL,        -- 'engine', or the user who pressed "heal now"/replay
    extra_vars       TEXT    NOT NULL,        -- JSON object of label values (untrusted data)
    timeout_ms       INTEGER NOT NULL,
    verify_expr      TEXT,
    verify_within_ms INTEGER NOT NULL,
    alert_starts_at  TEXT,
    created_at       TEXT    NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    verified_at      TEXT,
    exit_code        INTEGER,
    pid              INTEGER,                 -- process group of the (last) ansible-playbook
    error            TEXT,
    recap            TEXT,                    -- JSON: per-host PLAY RECAP counts
    output_lines     INTEGER NOT NULL DEFAULT 0,
    output_truncated INTEGER NOT NULL DEFAULT 0 CHECK (output_truncated IN (0, 1)),
    time_to_heal_ms  INTEGER                  -- alert startsAt -> verified
);
-- One run per target at a time, enforced by the database itself.
CREATE UNIQUE INDEX heal_runs_one_active_per_target ON heal_runs (target)
    WHERE status IN ('queued', 'awaiting_approval', 'running');
CREATE INDEX heal_runs_status ON heal_runs (status, id);
CREATE INDEX heal_runs_rule_target ON heal_runs (rule, target, created_at);

CREATE TABLE run_output (
    run_id INTEGER NOT NULL REFERENCES heal_runs (id),
    seq    INTEGER NOT NULL,
    stream TEXT    NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
    at     TEXT    NOT NULL,
    line   TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE decisions (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       TEXT    NOT NULL,
    rule     TEXT,
    outcome  TEXT    NOT NULL CHECK (outcome IN ('enqueued', 'skipped')),
    reason   TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    run_id   INTEGER REFERENCES heal_runs (id)
);
CREATE INDEX decisions_alert ON decisions (alert_id);
CREATE INDEX decisions_reason ON decisions (reason, id);

CREATE TABLE breaker_resets (
    id       INTEGER PRIMARY KEY,
    rule     TEXT NOT NULL,
    target   TEXT NOT NULL,
    reset_at TEXT NOT NULL,
    reset_by TEXT NOT NULL
);
CREATE INDEX breaker_resets_key ON breaker_resets (rule, target, reset_at);

-- Alerts the engine has not decided on yet (new episodes).
ALTER TABLE alerts ADD COLUMN decided_at TEXT;
-- Episodes stored before the engine existed are history, not work: never heal them now.
UPDATE alerts SET decided_at = last_seen_at;
CREATE INDEX alerts_undecided ON alerts (id) WHERE decided_at IS NULL;
