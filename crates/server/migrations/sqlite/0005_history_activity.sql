-- Config history and the owner's activity log (SQLite).
--
-- config_history keeps the last 20 envelopes of each agent (the current one included),
-- each sealed under the at-rest layer like agents.config_sealed, with the AAD naming
-- the row as "<agent_id>/<version>"; saved_by is a session id (never a token).
CREATE TABLE config_history (
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    envelope_sealed TEXT NOT NULL,
    saved_at        INTEGER NOT NULL,
    saved_by        TEXT NOT NULL,
    PRIMARY KEY (agent_id, version)
);

-- What happened to an owner's account and objects: never a value (no secret, no config
-- content, no token). Failed sign-ins are coalesced into `count` (see docs/security.md).
CREATE TABLE activity (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ts          INTEGER NOT NULL,
    last_ts     INTEGER NOT NULL,
    count       INTEGER NOT NULL DEFAULT 1,
    action      TEXT NOT NULL,
    object_kind TEXT,
    object_id   TEXT,
    object_name TEXT,
    detail      TEXT,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    client_addr TEXT
);
CREATE INDEX activity_owner ON activity(owner_id, id);
CREATE INDEX activity_owner_object ON activity(owner_id, object_id, id);
CREATE INDEX activity_ts ON activity(ts);
