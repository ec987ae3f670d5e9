-- Raw notifications of 4 KiB or more are kept packed from now on: `payload` then holds one
-- zstd frame (a BLOB) and `payload_encoding` says 'zstd'. Smaller bodies, and every row
-- stored before, keep their text ('identity'). Read them through
-- `db::notifications::raw_notification` (or GET /api/notifications/{id}/raw), which decodes either.
ALTER TABLE notifications ADD COLUMN payload_encoding TEXT NOT NULL DEFAULT 'identity'
    CHECK (payload_encoding IN ('identity', 'zstd'));
