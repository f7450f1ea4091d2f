-- Foundation: instance metadata, people, agents, vaults, grants, sessions,
-- sealed credentials and services. Times are Unix milliseconds (UTC).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'member', 'no-access')),
    created_at    INTEGER NOT NULL
);

CREATE TABLE user_sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions(user_id);

CREATE TABLE invites (
    token_hash  BLOB PRIMARY KEY,
    email       TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL CHECK (role IN ('owner', 'member', 'no-access')),
    created_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER
);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('member', 'no-access')),
    token_hash BLOB NOT NULL UNIQUE,
    revoked_at INTEGER,
    created_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE vaults (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    unmatched_host_policy TEXT NOT NULL DEFAULT 'passthrough'
                          CHECK (unmatched_host_policy IN ('passthrough', 'deny')),
    created_at            INTEGER NOT NULL
);

CREATE TABLE vault_users (
    vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('admin', 'member', 'proxy')),
    PRIMARY KEY (vault_id, user_id)
);
CREATE INDEX vault_users_user ON vault_users(user_id);

CREATE TABLE vault_agents (
    vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('admin', 'member', 'proxy')),
    PRIMARY KEY (vault_id, agent_id)
);
CREATE INDEX vault_agents_agent ON vault_agents(agent_id);

-- Scoped sessions: proxy-role tokens fixed to one vault.
CREATE TABLE scoped_sessions (
    id           TEXT PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    vault_id     TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    creator_kind TEXT NOT NULL CHECK (creator_kind IN ('user', 'agent')),
    creator_id   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX scoped_sessions_vault ON scoped_sessions(vault_id);

-- Credential values are sealed with the DEK; the additional data binds each
-- ciphertext to (vault id, key), so a value copied to another row fails to open.
CREATE TABLE credentials (
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (vault_id, key)
);

-- Services keep declaration order (position): it breaks matching ties.
CREATE TABLE services (
    vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    position INTEGER NOT NULL,
    spec     TEXT NOT NULL,
    PRIMARY KEY (vault_id, name)
);

-- One row per vault whose credentials come from an external store. A vault
-- with no row here uses the built-in store.
CREATE TABLE credential_stores (
    vault_id              TEXT PRIMARY KEY REFERENCES vaults(id) ON DELETE CASCADE,
    kind                  TEXT NOT NULL,
    config                TEXT NOT NULL,
    poll_interval_seconds INTEGER NOT NULL,
    generation            INTEGER NOT NULL DEFAULT 1,
    last_sync_status      TEXT NOT NULL DEFAULT 'ok',
    last_synced_at        INTEGER,
    last_sync_error       TEXT NOT NULL DEFAULT ''
);
