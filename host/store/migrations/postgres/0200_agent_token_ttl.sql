-- An agent's token lifetime (see ../0200_agent_token_ttl.sql).

ALTER TABLE agents ADD COLUMN token_ttl_seconds BIGINT NOT NULL DEFAULT 0;
