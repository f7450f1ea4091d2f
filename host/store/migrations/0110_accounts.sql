-- Accounts, invitations and instance settings for teams.
--
-- Login sessions get an id (the token hash never leaves the server), when
-- they were last used and where they came from, so people can list and end
-- them. Existing sessions take an id from their hash's first bytes.
ALTER TABLE user_sessions ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE user_sessions ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_sessions ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE user_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
UPDATE user_sessions SET id = lower(hex(substr(token_hash, 1, 8))), last_used_at = created_at;
CREATE UNIQUE INDEX user_sessions_id ON user_sessions(id);

ALTER TABLE users ADD COLUMN last_login_at INTEGER;

-- Owner-issued password resets: single use, short lived, stored hashed.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX password_resets_user ON password_resets(user_id);

-- Invites get a stable id (re-sending replaces the token), a revocation
-- time and vault roles the new user receives on joining.
ALTER TABLE invites ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE invites ADD COLUMN revoked_at INTEGER;
UPDATE invites SET id = lower(hex(substr(token_hash, 1, 8)));
CREATE UNIQUE INDEX invites_id ON invites(id);

CREATE TABLE invite_vaults (
    invite_id TEXT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    vault_id  TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('admin', 'member', 'proxy')),
    PRIMARY KEY (invite_id, vault_id)
);

-- Agent tokens may expire; a rotation may keep the previous token working
-- for an overlap window, so a running agent is not cut off mid-task.
ALTER TABLE agents ADD COLUMN token_expires_at INTEGER;
ALTER TABLE agents ADD COLUMN prev_token_hash BLOB;
ALTER TABLE agents ADD COLUMN prev_token_expires_at INTEGER;
ALTER TABLE agents ADD COLUMN last_used_at INTEGER;
CREATE INDEX agents_prev_token ON agents(prev_token_hash);

-- At most one row: the instance's team settings. Without it the defaults
-- below apply (an empty table keeps a fresh database empty for migrate-db).
CREATE TABLE instance_settings (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    invite_policy         TEXT NOT NULL DEFAULT 'owners' CHECK (invite_policy IN ('owners', 'members')),
    allowed_email_domains TEXT NOT NULL DEFAULT '',
    session_ttl_seconds   INTEGER NOT NULL DEFAULT 604800,
    idle_timeout_seconds  INTEGER NOT NULL DEFAULT 0
);
