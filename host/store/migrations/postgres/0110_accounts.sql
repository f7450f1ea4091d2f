-- Accounts, invitations and instance settings for teams.
--
-- Login sessions get an id (the token hash never leaves the server), when
-- they were last used and where they came from, so people can list and end
-- them. Existing sessions take an id from their hash's first bytes.
ALTER TABLE user_sessions ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE user_sessions ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_sessions ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE user_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
UPDATE user_sessions SET id = encode(substring(token_hash from 1 for 8), 'hex'), last_used_at = created_at;
CREATE UNIQUE INDEX user_sessions_id ON user_sessions(id);

ALTER TABLE users ADD COLUMN last_login_at BIGINT;

-- Owner-issued password resets: single use, short lived, stored hashed.
CREATE TABLE password_resets (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_user ON password_resets(user_id);

-- Invites get a stable id (re-sending replaces the token), a revocation
-- time and vault roles the new user receives on joining.
ALTER TABLE invites ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE invites ADD COLUMN revoked_at BIGINT;
UPDATE invites SET id = encode(substring(token_hash from 1 for 8), 'hex');
CREATE UNIQUE INDEX invites_id ON invites(id);

CREATE TABLE invite_vaults (
    invite_id TEXT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    vault_id  TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('admin', 'member', 'proxy')),
    PRIMARY KEY (invite_id, vault_id)
);

-- Agent tokens may expire; a rotation may keep the previous token working
-- for an overlap window, so a running agent is not cut off mid-task.
ALTER TABLE agents ADD COLUMN token_expires_at BIGINT;
ALTER TABLE agents ADD COLUMN prev_token_hash BYTEA;
ALTER TABLE agents ADD COLUMN prev_token_expires_at BIGINT;
ALTER TABLE agents ADD COLUMN last_used_at BIGINT;
CREATE INDEX agents_prev_token ON agents(prev_token_hash);

-- At most one row: the instance's team settings. Without it the defaults
-- below apply (an empty table keeps a fresh database empty for migrate-db).
CREATE TABLE instance_settings (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    invite_policy         TEXT NOT NULL DEFAULT 'owners' CHECK (invite_policy IN ('owners', 'members')),
    allowed_email_domains TEXT NOT NULL DEFAULT '',
    session_ttl_seconds   BIGINT NOT NULL DEFAULT 604800,
    idle_timeout_seconds  BIGINT NOT NULL DEFAULT 0
);

-- Recording when a session or agent token was last used must not tell every
-- replica to forget its caches: the change notifications of these two
-- tables fire only for the columns that decide who a token is.
DROP TRIGGER user_sessions_notify ON user_sessions;
CREATE TRIGGER user_sessions_notify AFTER UPDATE OF token_hash, user_id, expires_at OR DELETE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
DROP TRIGGER agents_notify ON agents;
CREATE TRIGGER agents_notify AFTER UPDATE OF name, role, token_hash, revoked_at, token_expires_at, prev_token_hash, prev_token_expires_at OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
-- The idle timeout decides whether a session token still stands.
CREATE TRIGGER instance_settings_notify AFTER INSERT OR UPDATE ON instance_settings
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
DROP TRIGGER users_notify ON users;
CREATE TRIGGER users_notify AFTER UPDATE OF email, password_hash, role OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
