-- Leak defences (see ../0050_scrub.sql).

ALTER TABLE request_logs ADD COLUMN scrubbed TEXT NOT NULL DEFAULT '';
ALTER TABLE request_logs ADD COLUMN blocked TEXT NOT NULL DEFAULT '';

ALTER TABLE vaults ADD COLUMN revoke_on_egress_block BIGINT NOT NULL DEFAULT 0;

CREATE TABLE canaries (
    id         TEXT PRIMARY KEY,
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX canaries_vault ON canaries(vault_id);
