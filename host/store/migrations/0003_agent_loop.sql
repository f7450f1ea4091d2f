-- The agent's side: proposals awaiting a human's decision, and the proxy's
-- request log. Times are Unix milliseconds (UTC).

-- A proposal's spec is its JSON change set (services and credential slots):
-- key names and descriptions, never values.
CREATE TABLE proposals (
    id           TEXT PRIMARY KEY,
    vault_id     TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    creator_kind TEXT NOT NULL,
    creator_id   TEXT NOT NULL,
    creator_name TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL DEFAULT '',
    user_message TEXT NOT NULL DEFAULT '',
    spec         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    decided_at   INTEGER,
    decided_by   TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX proposals_vault ON proposals(vault_id, status, created_at);
CREATE INDEX proposals_expiry ON proposals(status, expires_at);

-- Values an agent supplied with its proposal, sealed with the DEK (additional
-- data binds each to its proposal and key). Deleted once the proposal is
-- decided or expires.
CREATE TABLE proposal_values (
    proposal_id TEXT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    PRIMARY KEY (proposal_id, key)
);

-- One row per proxied request. No foreign key to vaults: the batching writer
-- must not lose a whole batch because one vault was deleted meanwhile; the
-- retention job removes rows of deleted vaults.
CREATE TABLE request_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id   TEXT NOT NULL,
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
    error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX request_logs_vault ON request_logs(vault_id, id);
CREATE INDEX request_logs_at ON request_logs(at);
