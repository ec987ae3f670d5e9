-- Firing alerts that no rule handles, for the overview's "needs you". Counting them through
-- each firing alert's latest decision cost 21 ms at 200,000 firing alerts (bench/dashboard.sh),
-- so an alert decided `no_rule` is flagged by a trigger (only such decisions pay, once per
-- alert), and a partial index holds the firing flagged ones. The overview still checks that
-- each flagged alert's latest decision is `no_rule` (a replay may have decided it since).
ALTER TABLE alerts ADD COLUMN no_rule INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET no_rule = 1 WHERE id IN (SELECT alert_id FROM decisions WHERE reason = 'no_rule');
CREATE INDEX alerts_firing_no_rule ON alerts (id) WHERE status = 'firing' AND no_rule = 1;
CREATE TRIGGER decisions_flag_no_rule AFTER INSERT ON decisions WHEN NEW.reason = 'no_rule'
BEGIN
    UPDATE alerts SET no_rule = 1 WHERE id = NEW.alert_id AND no_rule = 0;
END;
