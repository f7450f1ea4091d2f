-- Hosts reached without a matching service (see ../0120_discovered_hosts.sql).
CREATE TABLE discovered_hosts (
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    host       TEXT NOT NULL,
    count      BIGINT NOT NULL DEFAULT 0,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (vault_id, host)
);
CREATE INDEX discovered_hosts_last_seen ON discovered_hosts(vault_id, last_seen);
