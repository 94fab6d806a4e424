-- Alert rules and their webhook deliveries (postgres).
--
-- A rule belongs to an owner, optionally to one of their fleets, and names one webhook.
-- The webhook URL (Slack and Discord URLs embed a token) and the per-rule signing secret
-- are sealed under the at-rest layer (crypto::sealed_columns), the AAD naming the rule
-- id; only the URL's host is kept in plaintext, for the dashboard and the logs.
CREATE TABLE alert_rules (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    fleet_id        TEXT REFERENCES fleets(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    condition       TEXT NOT NULL,
    threshold       DOUBLE PRECISION,
    for_secs        BIGINT NOT NULL DEFAULT 0,
    cooldown_secs   BIGINT NOT NULL,
    enabled         BIGINT NOT NULL DEFAULT 1,
    webhook_kind    TEXT NOT NULL,
    webhook_host    TEXT NOT NULL,
    url_sealed      TEXT NOT NULL,
    secret_sealed   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX alert_rules_owner ON alert_rules(owner_id);

-- One row per notice sent (or given up on): never the URL, the secret or the body.
CREATE TABLE alert_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rule_id     TEXT NOT NULL,
    rule_name   TEXT NOT NULL,
    agent_id    TEXT,
    agent_name  TEXT,
    event       TEXT NOT NULL,
    ts          BIGINT NOT NULL,
    http_status BIGINT,
    error       TEXT,
    attempts    BIGINT NOT NULL
);
CREATE INDEX alert_deliveries_owner ON alert_deliveries(owner_id, id);
CREATE INDEX alert_deliveries_ts ON alert_deliveries(ts);
