-- Dynamic-secret leases are one per (vault, dynamic secret) for the whole
-- cluster: the current lease of a secret is its row with retired = 0 (a
-- partial unique index keeps it one), owned by the replica named in
-- instance_id while owner_until (Unix ms) lies ahead; the owner renews and
-- replaces it and pushes owner_until forward by heartbeats, and another
-- replica takes the row over once owner_until has passed. A retired row is
-- a replaced lease still to be revoked by whoever claims it first.
-- Leases of an older version (one per replica) keep their newest row per
-- secret current; the others are retired, to be revoked.

ALTER TABLE leases ADD COLUMN owner_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
UPDATE leases SET retired = 1 WHERE EXISTS (SELECT 1 FROM leases newer
    WHERE newer.vault_id = leases.vault_id AND newer.secret_name = leases.secret_name
      AND (newer.created_at > leases.created_at OR (newer.created_at = leases.created_at AND newer.id > leases.id)));
CREATE UNIQUE INDEX leases_current ON leases(vault_id, secret_name) WHERE retired = 0;
