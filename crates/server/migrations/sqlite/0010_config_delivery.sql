-- Whether the agent can receive configs, from its latest heartbeat's optional
-- `config_delivery` field: 'ready', 'not_set_up' (monitor-only: no ENCRYPTION_SECRET),
-- or NULL (an agent that does not say).
ALTER TABLE agents ADD COLUMN config_delivery TEXT;
