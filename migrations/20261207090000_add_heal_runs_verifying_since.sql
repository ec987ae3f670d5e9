-- Verification is its own stage with its own loop: the verifier claims a run whose verification
-- is `pending` by stamping `verifying_since`, and `pending` stays until the verdict, so a stop
-- or a crash leaves the run to be resumed at the next start (which clears the stamps).
ALTER TABLE heal_runs ADD COLUMN verifying_since TEXT;
-- The verifier looks for pending verifications on every wake-up and poll: a few rows among all
-- the runs ever kept.
CREATE INDEX heal_runs_verification_pending ON heal_runs (id) WHERE verification = 'pending';
