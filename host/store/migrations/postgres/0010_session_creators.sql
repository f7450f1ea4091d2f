-- A scoped session is only as strong as its creator right now: the lookup
-- joins the creator and its grant on every resolve. An agent's session is
-- also bound to the token that minted it, so rotating a leaked agent token
-- ends the sessions minted with it. Sessions minted before this migration
-- are bound to their agent's current token.

ALTER TABLE scoped_sessions ADD COLUMN creator_token_hash BYTEA;

UPDATE scoped_sessions SET creator_token_hash =
    (SELECT a.token_hash FROM agents a WHERE a.id = scoped_sessions.creator_id)
    WHERE creator_kind = 'agent';

-- Sessions whose creator is already gone can never be used again.
UPDATE scoped_sessions SET revoked_at = created_at
    WHERE revoked_at IS NULL AND (
        (creator_kind = 'agent' AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = scoped_sessions.creator_id)) OR
        (creator_kind = 'user' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = scoped_sessions.creator_id)));

-- Listing (and revoking) the sessions one caller minted.
CREATE INDEX scoped_sessions_creator ON scoped_sessions(creator_kind, creator_id);
