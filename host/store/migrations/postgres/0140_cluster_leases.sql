-- Cluster-wide dynamic-secret leases (PostgreSQL form of
-- ../0140_cluster_leases.sql). Besides the columns and the index, a
-- change of a secret's current lease (a new lease id, a retirement, a
-- delete) notifies the vault's channel, so replicas holding a copy of the
-- old lease's values drop it; heartbeats (owner_until) notify nothing.

ALTER TABLE leases ADD COLUMN owner_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
UPDATE leases SET retired = 1 WHERE EXISTS (SELECT 1 FROM leases newer
    WHERE newer.vault_id = leases.vault_id AND newer.secret_name = leases.secret_name
      AND (newer.created_at > leases.created_at OR (newer.created_at = leases.created_at AND newer.id > leases.id)));
CREATE UNIQUE INDEX leases_current ON leases(vault_id, secret_name) WHERE retired = 0;

CREATE TRIGGER leases_changed_notify AFTER UPDATE ON leases
    FOR EACH ROW WHEN (OLD.lease_id IS DISTINCT FROM NEW.lease_id OR OLD.retired IS DISTINCT FROM NEW.retired)
    EXECUTE FUNCTION agent_vault_notify('vault_id');
CREATE TRIGGER leases_deleted_notify AFTER DELETE ON leases
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify('vault_id');
