-- External credential stores: dynamic-secret leases (PostgreSQL form of
-- ../0002_external_stores.sql). Leased values live in memory only.

CREATE TABLE leases (
    id          TEXT PRIMARY KEY,
    vault_id    TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL,
    secret_name TEXT NOT NULL,
    lease_id    TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    instance_id TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX leases_vault ON leases(vault_id);
CREATE INDEX leases_instance ON leases(instance_id);
