-- An agent's token lifetime (seconds; 0: never expires), as chosen when it
-- was created or last rotated, so a rotation that names none keeps it.
-- Agents created before this column keep "never" as that default, which
-- is what rotation did for them so far.

ALTER TABLE agents ADD COLUMN token_ttl_seconds INTEGER NOT NULL DEFAULT 0;
