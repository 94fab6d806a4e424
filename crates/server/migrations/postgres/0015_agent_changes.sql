-- Changes to an agent that a replica's in-memory caches of agent rows and agent tokens
-- must see (see access::cache): a rotated secret or a new identity or enrollment (its
-- tokens are deleted with it), a
-- deleted agent, a new policy, gateway URL or config version. Written by triggers in the
-- transaction that makes the change, so no writer can forget it and a crash cannot
-- separate the two. Every replica reads the last minute of it each second (a change that
-- commits late, after a higher seq, is still within that minute); rows older than an hour
-- are pruned. `at` is the database's clock (seconds); no value of a secret.
CREATE TABLE agent_changes (
    seq      BIGSERIAL PRIMARY KEY,
    agent_id TEXT NOT NULL,
    at       BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM clock_timestamp())::BIGINT)
);
CREATE INDEX agent_changes_at ON agent_changes(at);

CREATE FUNCTION agent_changes_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_changes (agent_id) VALUES (OLD.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER agent_changes_on_update
AFTER UPDATE OF secret_sealed, identity, public_key, enrolled_at, policy_profile, heartbeat_interval, gateway_url, config_version ON agents
FOR EACH ROW EXECUTE FUNCTION agent_changes_log();

CREATE TRIGGER agent_changes_on_delete
AFTER DELETE ON agents
FOR EACH ROW EXECUTE FUNCTION agent_changes_log();
