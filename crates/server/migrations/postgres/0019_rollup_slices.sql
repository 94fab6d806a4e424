-- A roll-up step covers a slice of agents, not all of them (docs/benchmarks.md, "The
-- roll-ups in slices"): at 100 000 agents one minute's roll-up was one statement of 1.5 s
-- that stalled the heartbeats around it. A pass rolls the buckets in [done_until,
-- pass_until) one slice of agents at a time, from the key pass_key on; pass_until = 0 when no
-- pass is under way. The buckets' rows are final (and read) only once done_until passes them.
ALTER TABLE metrics_rollups ADD COLUMN pass_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE metrics_rollups ADD COLUMN pass_key BIGINT NOT NULL DEFAULT 0;
