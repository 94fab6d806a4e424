-- Heartbeat history as rollups (docs/api.md "Heartbeat history"; the task is
-- access::rollups, the SQL store::rollups).
--
-- metrics_raw holds each heartbeat's four chart metrics for a few hours; metrics_1m,
-- metrics_5m and metrics_1h hold per-agent aggregates of each minute, five minutes and
-- hour (sample count; the average, maximum and sample count of each metric, since an agent
-- may leave one out), each kept for its own retention. Rows are keyed by (agent_key,
-- time) without a rowid, and indexed by time for the rollup windows and the pruning: no
-- per-row id, no agent id text per row.
--
-- metrics_keys gives each agent a small integer key, written by a trigger when the agent
-- is created; keys are never reused (AUTOINCREMENT), so history rows a rollup writes for
-- an agent deleted meanwhile can never be read as another's, and age out with retention.
-- Deleting an agent deletes its history in the same transaction.
CREATE TABLE metrics_keys (
    agent_key INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id  TEXT NOT NULL UNIQUE
);
INSERT INTO metrics_keys (agent_id) SELECT id FROM agents ORDER BY created_at, id;

CREATE TABLE metrics_raw (
    agent_key    INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    cpu_usage    REAL,
    memory_usage REAL,
    disk_usage   REAL,
    latency_ms   REAL,
    PRIMARY KEY (agent_key, ts)
) WITHOUT ROWID;
CREATE INDEX metrics_raw_ts ON metrics_raw(ts);

CREATE TABLE metrics_1m (
    agent_key   INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    samples     INTEGER NOT NULL,
    cpu_avg     REAL,
    cpu_max     REAL,
    memory_avg  REAL,
    memory_max  REAL,
    disk_avg    REAL,
    disk_max    REAL,
    latency_avg REAL,
    latency_max REAL,
    cpu_n       INTEGER NOT NULL,
    memory_n    INTEGER NOT NULL,
    disk_n      INTEGER NOT NULL,
    latency_n   INTEGER NOT NULL,
    PRIMARY KEY (agent_key, bucket)
) WITHOUT ROWID;
CREATE INDEX metrics_1m_bucket ON metrics_1m(bucket);

CREATE TABLE metrics_5m (
    agent_key   INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    samples     INTEGER NOT NULL,
    cpu_avg     REAL,
    cpu_max     REAL,
    memory_avg  REAL,
    memory_max  REAL,
    disk_avg    REAL,
    disk_max    REAL,
    latency_avg REAL,
    latency_max REAL,
    cpu_n       INTEGER NOT NULL,
    memory_n    INTEGER NOT NULL,
    disk_n      INTEGER NOT NULL,
    latency_n   INTEGER NOT NULL,
    PRIMARY KEY (agent_key, bucket)
) WITHOUT ROWID;
CREATE INDEX metrics_5m_bucket ON metrics_5m(bucket);

CREATE TABLE metrics_1h (
    agent_key   INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    samples     INTEGER NOT NULL,
    cpu_avg     REAL,
    cpu_max     REAL,
    memory_avg  REAL,
    memory_max  REAL,
    disk_avg    REAL,
    disk_max    REAL,
    latency_avg REAL,
    latency_max REAL,
    cpu_n       INTEGER NOT NULL,
    memory_n    INTEGER NOT NULL,
    disk_n      INTEGER NOT NULL,
    latency_n   INTEGER NOT NULL,
    PRIMARY KEY (agent_key, bucket)
) WITHOUT ROWID;
CREATE INDEX metrics_1h_bucket ON metrics_1h(bucket);

-- How far each resolution is rolled up: every bucket before done_until is final.
CREATE TABLE metrics_rollups (
    step       INTEGER PRIMARY KEY,
    done_until INTEGER NOT NULL
);
INSERT INTO metrics_rollups (step, done_until) VALUES (60, 0), (300, 0), (3600, 0);

CREATE TRIGGER metrics_keys_on_insert
AFTER INSERT ON agents
BEGIN
    INSERT INTO metrics_keys (agent_id) VALUES (NEW.id);
END;

CREATE TRIGGER metrics_on_agent_delete
AFTER DELETE ON agents
BEGIN
    DELETE FROM metrics_raw WHERE agent_key = (SELECT agent_key FROM metrics_keys WHERE agent_id = OLD.id);
    DELETE FROM metrics_1m WHERE agent_key = (SELECT agent_key FROM metrics_keys WHERE agent_id = OLD.id);
    DELETE FROM metrics_5m WHERE agent_key = (SELECT agent_key FROM metrics_keys WHERE agent_id = OLD.id);
    DELETE FROM metrics_1h WHERE agent_key = (SELECT agent_key FROM metrics_keys WHERE agent_id = OLD.id);
    DELETE FROM metrics_keys WHERE agent_id = OLD.id;
END;

-- The old one-row-per-heartbeat history becomes raw samples (one a second at most); the
-- first rollup run aggregates them and retention prunes them.
INSERT INTO metrics_raw (agent_key, ts, cpu_usage, memory_usage, disk_usage, latency_ms)
SELECT k.agent_key, h.ts, MAX(h.cpu_usage), MAX(h.memory_usage), MAX(h.disk_usage), MAX(h.latency_ms)
FROM heartbeats h JOIN metrics_keys k ON k.agent_id = h.agent_id
GROUP BY k.agent_key, h.ts;
DROP TABLE heartbeats;
