-- A window with `silence = true` silences its alerts in Alertmanager while it is open: the
-- silence of the current occurrence, and the end it was made for (so a restart does not make
-- a second one, and a cancelled window's silence is expired).
ALTER TABLE maintenance_windows ADD COLUMN silence_id TEXT;
ALTER TABLE maintenance_windows ADD COLUMN silenced_until TEXT;
