-- External credential stores: dynamic-secret leases. Leased values live in
-- memory only; a row keeps what is needed to revoke the lease later, and
-- the server instance that holds it, so a starting replica sweeps only its
-- own leftovers.

CREATE TABLE leases (
    id          TEXT PRIMARY KEY,
    vault_id    TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL,
    secret_name TEXT NOT NULL,
    lease_id    TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX leases_vault ON leases(vault_id);
CREATE INDEX leases_instance ON leases(instance_id);
