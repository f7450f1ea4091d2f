-- A vault's request log goes with the vault (see ../0071_request_logs_cascade.sql).

DELETE FROM request_logs WHERE vault_id NOT IN (SELECT id FROM vaults);
ALTER TABLE request_logs ADD CONSTRAINT request_logs_vault_fk
    FOREIGN KEY (vault_id) REFERENCES vaults(id) ON DELETE CASCADE;
