-- Leak defences: the request log records what a response was scrubbed of
-- (key:count pairs) and which key stopped a request ("canary:NAME" for a
-- canary); a vault may revoke the session whose request carried a secret
-- bound elsewhere; canaries are bait values a vault holds, never injected.

ALTER TABLE request_logs ADD COLUMN scrubbed TEXT NOT NULL DEFAULT '';
ALTER TABLE request_logs ADD COLUMN blocked TEXT NOT NULL DEFAULT '';

ALTER TABLE vaults ADD COLUMN revoke_on_egress_block INTEGER NOT NULL DEFAULT 0;

CREATE TABLE canaries (
    id         TEXT PRIMARY KEY,
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX canaries_vault ON canaries(vault_id);
