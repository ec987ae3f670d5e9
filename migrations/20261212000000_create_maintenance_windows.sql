-- Maintenance windows: label matchers and a time (one-off or a cron schedule in a time zone),
-- from the config file (`source = 'config'`, kept in step with it at each start and reload) or
-- opened by a person or a token (`api`). Rows stay after they end or are cancelled: the page
-- lists their history. While one covers an alert, its episode is decided `in_maintenance`.
CREATE TABLE maintenance_windows (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 100),
    spec         TEXT NOT NULL,            -- JSON: the window as written (matchers, times, action)
    source       TEXT NOT NULL CHECK (source IN ('config', 'api')),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    cancelled_by TEXT,
    cancelled_at TEXT,
    CHECK ((cancelled_at IS NULL) = (cancelled_by IS NULL))
);
-- One window of a name in force at a time.
CREATE UNIQUE INDEX maintenance_windows_in_force ON maintenance_windows (name) WHERE cancelled_at IS NULL;
-- Held episodes, for the check that decides them again once no window covers them.
CREATE INDEX decisions_in_maintenance ON decisions (alert_id) WHERE reason = 'in_maintenance';
