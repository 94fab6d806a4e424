-- The heartbeat flush without index writes (docs/api.md "Listing agents",
-- docs/benchmarks.md "The heartbeat flush: coarse last-seen key").
--
-- seen_key was COALESCE(last_seen, 0), generated, so every flushed heartbeat changed four
-- list indexes and the offline-deadline index; on PostgreSQL a changed indexed column
-- makes the update non-HOT, which writes a new entry into all fourteen indexes of agents.
-- Now seen_key is a plain column the server writes: the agent's last_seen when the flush
-- changes its status, or when last_seen has moved 1.5 heartbeat intervals or more past
-- it; otherwise a flush leaves it (and status) as they are and rewrites only unindexed
-- columns, which PostgreSQL does as a HOT update in the same page (fillfactor leaves room).
-- Invariant: seen_key <= last_seen < seen_key + 1.5 intervals after each flush.
--
-- The offline sweep's candidates come from the coarse deadline seen_key + 3 intervals
-- (never later than the exact one, so a superset), rechecked against the exact last_seen.
ALTER TABLE agents ALTER COLUMN seen_key DROP EXPRESSION;
ALTER TABLE agents ALTER COLUMN seen_key SET DEFAULT 0;
ALTER TABLE agents ALTER COLUMN seen_key SET NOT NULL;
DROP INDEX agents_online_deadline;
CREATE INDEX agents_online_deadline ON agents((seen_key + 3 * heartbeat_interval))
    WHERE status <> 'offline';
-- Room in each page for the HOT versions of its rows (new pages; existing ones as rows move).
ALTER TABLE agents SET (fillfactor = 60);
