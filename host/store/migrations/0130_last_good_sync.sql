-- Metrics and the overview show how long ago each external store last
-- synced successfully; last_synced_at moves on failures too (it spaces the
-- next attempt), so the time of the last good sync gets its own column.
-- Stores whose last sync succeeded start with that time.

ALTER TABLE credential_stores ADD COLUMN last_ok_at INTEGER;
UPDATE credential_stores SET last_ok_at = last_synced_at WHERE last_sync_status = 'ok';
