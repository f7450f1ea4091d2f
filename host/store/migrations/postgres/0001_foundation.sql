-- Foundation (PostgreSQL form of ../0001_foundation.sql): instance metadata,
-- people, agents, vaults, grants, sessions, sealed credentials and services.
-- Times are Unix milliseconds (UTC) in BIGINT, as SQLite's INTEGER holds them.

-- SQLite's COLLATE NOCASE: equality and uniqueness ignore case.
CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE nocase,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'member', 'no-access')),
    created_at    BIGINT NOT NULL
);

CREATE TABLE user_sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions(user_id);

CREATE TABLE invites (
    token_hash  BYTEA PRIMARY KEY,
    email       TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL CHECK (role IN ('owner', 'member', 'no-access')),
    created_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT
);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('member', 'no-access')),
    token_hash BYTEA NOT NULL UNIQUE,
    revoked_at BIGINT,
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE vaults (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    unmatched_host_policy TEXT NOT NULL DEFAULT 'passthrough'
                          CHECK (unmatched_host_policy IN ('passthrough', 'deny')),
    created_at            BIGINT NOT NULL
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

CREATE TABLE scoped_sessions (
    id           TEXT PRIMARY KEY,
    token_hash   BYTEA NOT NULL UNIQUE,
    vault_id     TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    creator_kind TEXT NOT NULL CHECK (creator_kind IN ('user', 'agent')),
    creator_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX scoped_sessions_vault ON scoped_sessions(vault_id);

CREATE TABLE credentials (
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (vault_id, key)
);

CREATE TABLE services (
    vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    position BIGINT NOT NULL,
    spec     TEXT NOT NULL,
    PRIMARY KEY (vault_id, name)
);

CREATE TABLE credential_stores (
    vault_id              TEXT PRIMARY KEY REFERENCES vaults(id) ON DELETE CASCADE,
    kind                  TEXT NOT NULL,
    config                TEXT NOT NULL,
    poll_interval_seconds BIGINT NOT NULL,
    generation            BIGINT NOT NULL DEFAULT 1,
    last_sync_status      TEXT NOT NULL DEFAULT 'ok',
    last_synced_at        BIGINT,
    last_sync_error       TEXT NOT NULL DEFAULT ''
);
