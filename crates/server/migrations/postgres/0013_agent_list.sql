-- The agent list at 100 000 agents (docs/api.md "Listing agents").
--
-- name_fold: the name lowercased (written by the server on create and rename), the key of
-- the name search (a prefix range) and of the name sort. Byte order on both backends
-- (SQLite BINARY, PostgreSQL COLLATE "C"), so pages and cursors agree between them.
-- Rows from before this migration are folded by SQL lower() here.
ALTER TABLE agents ADD COLUMN name_fold TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE agents SET name_fold = lower(name);

-- status stores the effective status for filters and counts: the reported one, or
-- 'offline' once the agent missed three heartbeat intervals (set by the server's
-- offline sweep; NULL is pending). Each filter x sort pair below is an index range scan;
-- status + fleet together scan the fleet's range and check the status per row.
DROP INDEX agents_owner;
DROP INDEX agents_last_seen;
CREATE INDEX agents_owner_name ON agents(owner_id, name_fold, id);
CREATE INDEX agents_owner_status_name ON agents(owner_id, status, name_fold, id);
CREATE INDEX agents_owner_fleet_name ON agents(owner_id, fleet_id, name_fold, id);
CREATE INDEX agents_owner_created ON agents(owner_id, created_at, id);
CREATE INDEX agents_owner_status_created ON agents(owner_id, status, created_at, id);
CREATE INDEX agents_owner_fleet_created ON agents(owner_id, fleet_id, created_at, id);
CREATE INDEX agents_owner_seen ON agents(owner_id, (COALESCE(last_seen, 0)), id);
CREATE INDEX agents_owner_status_seen ON agents(owner_id, status, (COALESCE(last_seen, 0)), id);
CREATE INDEX agents_owner_fleet_seen ON agents(owner_id, fleet_id, (COALESCE(last_seen, 0)), id);
-- The offline sweep's range: agents not yet marked offline, by their offline deadline.
CREATE INDEX agents_online_deadline ON agents((last_seen + 3 * heartbeat_interval))
    WHERE status <> 'offline';
