-- The agent list at 100 000 agents, second step (docs/api.md "Listing agents";
-- docs/benchmarks.md "Agent list at 100 000 agents").
--
-- seen_key: COALESCE(last_seen, 0), the last_seen sort key, as a generated column
-- (SQLite: VIRTUAL, so the table is not rewritten; its indexes store it).
-- SQLite starts a keyset range `(key, id) > (?, ?)` on an indexed column but not on an
-- indexed expression, so with the expression indexes of 0013 a deep last_seen page read
-- every row before it; on a column both backends seek straight to the cursor.
ALTER TABLE agents ADD COLUMN seen_key INTEGER GENERATED ALWAYS AS (COALESCE(last_seen, 0)) VIRTUAL;
DROP INDEX agents_owner_seen;
DROP INDEX agents_owner_status_seen;
DROP INDEX agents_owner_fleet_seen;
CREATE INDEX agents_owner_seen ON agents(owner_id, seen_key, id);
CREATE INDEX agents_owner_status_seen ON agents(owner_id, status, seen_key, id);
CREATE INDEX agents_owner_fleet_seen ON agents(owner_id, fleet_id, seen_key, id);

-- Fleet and status together: their own range per sort (0013 scanned the fleet's range
-- and checked the status per row: 115 ms a page for a rare status in a large fleet).
CREATE INDEX agents_owner_fleet_status_name ON agents(owner_id, fleet_id, status, name_fold, id);
CREATE INDEX agents_owner_fleet_status_created ON agents(owner_id, fleet_id, status, created_at, id);
CREATE INDEX agents_owner_fleet_status_seen ON agents(owner_id, fleet_id, status, seen_key, id);
