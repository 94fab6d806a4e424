-- Changes to an agent that a replica's in-memory caches of agent rows and agent tokens
-- must see (see access::cache): a rotated secret or a new identity or enrollment (its
-- tokens are deleted with it), a
-- deleted agent, a new policy, gateway URL or config version. Written by triggers in the
-- transaction that makes the change, so no writer can forget it and a crash cannot
-- separate the two. Every replica reads the last minute of it each second; rows older
-- than an hour are pruned. `at` is the database's clock (seconds); no value of a secret.
CREATE TABLE agent_changes (
    seq      INTEGER PRIMARY KEY,
    agent_id TEXT NOT NULL,
    at       INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX agent_changes_at ON agent_changes(at);

CREATE TRIGGER agent_changes_on_update
AFTER UPDATE OF secret_sealed, identity, public_key, enrolled_at, policy_profile, heartbeat_interval, gateway_url, config_version ON agents
BEGIN
    INSERT INTO agent_changes (agent_id) VALUES (OLD.id);
END;

CREATE TRIGGER agent_changes_on_delete
AFTER DELETE ON agents
BEGIN
    INSERT INTO agent_changes (agent_id) VALUES (OLD.id);
END;
