-- The time of each external store's last good sync (see ../0130_last_good_sync.sql).

ALTER TABLE credential_stores ADD COLUMN last_ok_at BIGINT;
UPDATE credential_stores SET last_ok_at = last_synced_at WHERE last_sync_status = 'ok';
