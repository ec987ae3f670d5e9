-- A per-user counter bumped when the password changes or the user is disabled or enabled. A
-- session remembers the value at its login and ends at its next request once they differ, so
-- a password reset or a disable also ends the sessions already open.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
