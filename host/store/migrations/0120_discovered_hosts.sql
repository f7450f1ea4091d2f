-- Hosts the proxy forwarded for a vault without a matching service: one
-- row per vault and host (lower-case, ":port" only when not the scheme's
-- default), how often and when. No path, query or value is kept. The
-- recorder bounds the rows per vault (DiscoveredHostsPerVault).
CREATE TABLE discovered_hosts (
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    host       TEXT NOT NULL,
    count      INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (vault_id, host)
);
CREATE INDEX discovered_hosts_last_seen ON discovered_hosts(vault_id, last_seen);
