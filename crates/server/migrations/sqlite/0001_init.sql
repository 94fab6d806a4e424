-- OpenClaw Fleet schema v1 (SQLite). Secrets live only in *_sealed columns, under the
-- server's at-rest layer (SPEC §6); tokens are stored as SHA-256 hashes.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    kdf           TEXT,
    key_check     TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE fleets (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, name)
);

CREATE TABLE agents (
    id                       TEXT PRIMARY KEY,
    owner_id                 TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    fleet_id                 TEXT REFERENCES fleets(id) ON DELETE RESTRICT,
    name                     TEXT NOT NULL,
    policy_profile           TEXT NOT NULL,
    gateway_url              TEXT,
    heartbeat_interval       INTEGER NOT NULL,
    secret_sealed            TEXT NOT NULL,
    secret_last_used_at      INTEGER,
    plaintext_secret_seen_at INTEGER,
    wrapped_secret           TEXT,
    config_sealed            TEXT,
    config_version           INTEGER NOT NULL DEFAULT 0,
    config_saved_at          INTEGER,
    status                   TEXT,
    last_seen                INTEGER,
    metrics                  TEXT,
    agent_version            TEXT,
    config_version_applied   INTEGER,
    last_error               TEXT,
    machine_id               TEXT,
    location                 TEXT,
    model                    TEXT,
    created_at               INTEGER NOT NULL
);
CREATE INDEX agents_owner ON agents(owner_id, created_at);
CREATE INDEX agents_last_seen ON agents(last_seen);

CREATE TABLE agent_tokens (
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX agent_tokens_agent ON agent_tokens(agent_id);

CREATE TABLE used_signatures (
    agent_id  TEXT NOT NULL,
    signature TEXT NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (agent_id, signature)
);
CREATE INDEX used_signatures_seen ON used_signatures(seen_at);

CREATE TABLE heartbeats (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    ts           INTEGER NOT NULL,
    status       TEXT NOT NULL,
    cpu_usage    REAL,
    memory_usage REAL,
    disk_usage   REAL,
    latency_ms   REAL
);
CREATE INDEX heartbeats_agent_ts ON heartbeats(agent_id, ts);
CREATE INDEX heartbeats_ts ON heartbeats(ts);
