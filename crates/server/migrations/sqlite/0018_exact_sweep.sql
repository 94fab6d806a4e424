-- The offline sweep reads the exact deadline (last_seen + 3 intervals) sequentially, and
-- the heartbeat flush moves the coarse seen_key once a step of 60-180 s (drawn by the
-- server) has run past it
-- (docs/benchmarks.md "The PostgreSQL open loop: index writes, not the flush statement").
--
-- The deadline index of 0017 (seen_key + 3 intervals) needed the key within 1.5 intervals
-- of last_seen, so an agent at a 10 s interval moved its key every other heartbeat, and
-- each move rewrote the entries of the key's indexes. A sequential read of agents each
-- second costs less than those writes.
DROP INDEX agents_online_deadline;
