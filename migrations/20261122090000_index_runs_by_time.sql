-- The overview counts runs of the last 24 hours, and the breaker view counts a rule's runs in
-- its window: both by time, which the (rule, target, created_at) index cannot range-scan.
CREATE INDEX heal_runs_created_at ON heal_runs (created_at);
CREATE INDEX heal_runs_rule_created_at ON heal_runs (rule, created_at);
