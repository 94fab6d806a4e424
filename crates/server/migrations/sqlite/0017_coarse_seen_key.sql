-- The heartbeat flush without index writes (docs/api.md "Listing agents",
-- docs/benchmarks.md "The heartbeat flush: coarse last-seen key").
--
-- seen_key was COALESCE(last_seen, 0), generated, so every flushed heartbeat changed four
-- list indexes and the offline-deadline index. Now seen_key is a plain column the server
-- writes: the agent's last_seen when the flush changes its status, or when last_seen has
-- moved 1.5 heartbeat intervals or more past it; otherwise a flush sets only unindexed
-- columns. Invariant: seen_key <= last_seen < seen_key + 1.5 intervals after each flush.
--
-- The offline sweep's candidates come from the coarse deadline seen_key + 3 intervals
-- (never later than the exact one, so a superset), rechecked against the exact last_seen.
DROP INDEX agents_owner_seen;
DROP INDEX agents_owner_status_seen;
DROP INDEX agents_owner_fleet_seen;
DROP INDEX agents_owner_fleet_status_seen;
DROP INDEX agents_online_deadline;
ALTER TABLE agents DROP COLUMN seen_key;
ALTER TABLE agents ADD COLUMN seen_key INTEGER NOT NULL DEFAULT 0;
UPDATE agents SET seen_key = COALESCE(last_seen, 0);
CREATE INDEX agents_owner_seen ON agents(owner_id, seen_key, id);
CREATE INDEX agents_owner_status_seen ON agents(owner_id, status, seen_key, id);
CREATE INDEX agents_owner_fleet_seen ON agents(owner_id, fleet_id, seen_key, id);
CREATE INDEX agents_owner_fleet_status_seen ON agents(owner_id, fleet_id, status, seen_key, id);
CREATE INDEX agents_online_deadline ON agents((seen_key + 3 * heartbeat_interval))
    WHERE status <> 'offline';
