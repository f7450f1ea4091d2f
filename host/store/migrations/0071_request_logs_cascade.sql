-- A vault's request log goes with the vault: request_logs gains a foreign
-- key with ON DELETE CASCADE, so deleting a vault removes its log rows in
-- the same transaction instead of leaving them to the retention job.
-- SQLite cannot add a foreign key to a table: it is rebuilt, keeping its
-- ids (and so the AUTOINCREMENT sequence) and dropping the rows of vaults
-- already gone. The writer drops a queued row whose vault is gone
-- (InsertRequestLogs), so the key never costs a batch.

CREATE TABLE request_logs_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    actor_kind TEXT NOT NULL DEFAULT '',
    actor_id   TEXT NOT NULL DEFAULT '',
    method     TEXT NOT NULL DEFAULT '',
    host       TEXT NOT NULL DEFAULT '',
    path       TEXT NOT NULL DEFAULT '',
    service    TEXT NOT NULL DEFAULT '',
    keys       TEXT NOT NULL DEFAULT '',
    status     INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT '',
    scrubbed   TEXT NOT NULL DEFAULT '',
    blocked    TEXT NOT NULL DEFAULT ''
);
-- scrubbed and blocked come from 0050_scrub.sql, which runs first.
INSERT INTO request_logs_new (id, vault_id, at, actor_kind, actor_id, method, host, path, service, keys, status, latency_ms, error, scrubbed, blocked)
    SELECT id, vault_id, at, actor_kind, actor_id, method, host, path, service, keys, status, latency_ms, error, scrubbed, blocked
    FROM request_logs WHERE vault_id IN (SELECT id FROM vaults);
DROP TABLE request_logs;
ALTER TABLE request_logs_new RENAME TO request_logs;
CREATE INDEX request_logs_vault ON request_logs(vault_id, id);
