-- Two indexes no query uses: every alert and notification written paid for them (in a group
-- commit each index is one more page written to the WAL). Episodes are found by
-- (fingerprint, starts_at), pages by id, retention walks notifications by id.
DROP INDEX IF EXISTS alerts_starts_at;
DROP INDEX IF EXISTS notifications_received_at;
