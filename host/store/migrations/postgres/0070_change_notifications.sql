-- Changes reach every replica: each committed change to what a replica
-- caches (vaults, their services, credentials and store, grants, agents,
-- users, sessions) sends a notification on the channel
-- agent_vault_<schema>, with the vault's id as payload, or '' when
-- principals changed (every cached token is stale). Triggers make the
-- notification part of the writing transaction: it is delivered if and only
-- if the change commits, whoever wrote it; PostgreSQL folds identical
-- notifications of one transaction into one. Inserts of agents, users and
-- sessions send nothing: a new token was never cached.

CREATE FUNCTION agent_vault_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    channel TEXT := 'agent_vault_' || current_schema();
BEGIN
    IF TG_NARGS = 0 THEN
        PERFORM pg_notify(channel, '');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify(channel, to_jsonb(OLD) ->> TG_ARGV[0]);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify(channel, to_jsonb(NEW) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

-- A vault's own data: its id as payload.
CREATE TRIGGER services_notify AFTER INSERT OR UPDATE OR DELETE ON services
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify('vault_id');
CREATE TRIGGER credentials_notify AFTER INSERT OR UPDATE OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify('vault_id');
CREATE TRIGGER credential_stores_notify AFTER INSERT OR UPDATE OR DELETE ON credential_stores
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify('vault_id');

-- Vault renames and deletes, grants and principals: everything.
CREATE TRIGGER vaults_notify AFTER UPDATE OR DELETE ON vaults
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
CREATE TRIGGER vault_users_notify AFTER INSERT OR UPDATE OR DELETE ON vault_users
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
CREATE TRIGGER vault_agents_notify AFTER INSERT OR UPDATE OR DELETE ON vault_agents
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
CREATE TRIGGER agents_notify AFTER UPDATE OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
CREATE TRIGGER users_notify AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
CREATE TRIGGER user_sessions_notify AFTER UPDATE OR DELETE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
CREATE TRIGGER scoped_sessions_notify AFTER UPDATE OR DELETE ON scoped_sessions
    FOR EACH ROW EXECUTE FUNCTION agent_vault_notify();
