//! Heartbeat history as rollups: the SQL behind `access::rollups` (migrations 0014, 0019).
//!
//! `metrics_raw` holds the samples the heartbeat flush writes (`store::telemetry`);
//! `metrics_1m`, `metrics_5m` and `metrics_1h` hold per-agent aggregates of each minute,
//! five minutes and hour, each rolled up from the next finer table. `metrics_rollups`
//! says how far each resolution is final, and where the pass under way stands.
//!
//! A pass rolls a window of whole buckets up **a slice of agents at a time** (the next
//! n agent keys that exist), each slice one short transaction, so that 100 000 agents'
//! minute is not one statement holding a core (docs/benchmarks.md, "The roll-ups in slices"). The
//! window's rows are read only once the pass's last slice moves the mark past them.
//! Each step first locks its resolution's row (an `UPDATE`: a row lock on PostgreSQL,
//! the write lock on SQLite), so two replicas rolling at once take turns, and the second
//! sees the first's progress; the aggregates are upserts keyed by (agent, bucket start)
//! computed from the whole bucket, so rolling a window again writes the same rows.

use async_trait::async_trait;

use super::StoreError;

/// A history table: the raw samples, or one of the rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Raw,
    Minute,
    FiveMinutes,
    Hour,
}

impl Resolution {
    /// The rollups, finest first (each is rolled up from the one before it, the first
    /// from the raw samples).
    pub const ROLLUPS: [Resolution; 3] = [Self::Minute, Self::FiveMinutes, Self::Hour];

    /// The bucket width in seconds (0 for raw samples).
    pub fn step(self) -> i64 {
        match self {
            Self::Raw => 0,
            Self::Minute => 60,
            Self::FiveMinutes => 300,
            Self::Hour => 3600,
        }
    }

    /// The next finer table: what this one is rolled up from.
    pub fn source(self) -> Self {
        match self {
            Self::Raw | Self::Minute => Self::Raw,
            Self::FiveMinutes => Self::Minute,
            Self::Hour => Self::FiveMinutes,
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            Self::Raw => "metrics_raw",
            Self::Minute => "metrics_1m",
            Self::FiveMinutes => "metrics_5m",
            Self::Hour => "metrics_1h",
        }
    }

    /// The column holding a row's time (a sample's, or its bucket's start).
    pub(crate) fn time(self) -> &'static str {
        match self {
            Self::Raw => "ts",
            _ => "bucket",
        }
    }

    /// `INSERT … SELECT` of this rollup's buckets in `[$1, $2)` from its source
    /// (`$3` is the step) for the agents `slice` picks (a condition on `agent_key` with
    /// `$4` and `$5`: see `SliceSql`), replacing rows already there. A coarser bucket's
    /// averages are its finer buckets' weighted by how many samples had the metric.
    pub(crate) fn rollup_sql(self, slice: &str) -> String {
        const METRICS: [(&str, &str); 4] = [
            ("cpu", "cpu_usage"),
            ("memory", "memory_usage"),
            ("disk", "disk_usage"),
            ("latency", "latency_ms"),
        ];
        let source = self.source();
        let (count, aggregates): (&str, Vec<String>) = if source == Self::Raw {
            (
                "COUNT(*)",
                METRICS
                    .iter()
                    .map(|(_, c)| format!("AVG({c}), MAX({c}), COUNT({c})"))
                    .collect(),
            )
        } else {
            (
                "SUM(samples)",
                METRICS
                    .iter()
                    .map(|(m, _)| {
                        format!(
                            "SUM({m}_avg * {m}_n) / NULLIF(SUM({m}_n), 0), MAX({m}_max), SUM({m}_n)"
                        )
                    })
                    .collect(),
            )
        };
        let updates: Vec<String> = METRICS
            .iter()
            .flat_map(|(m, _)| ["avg", "max", "n"].map(|x| format!("{m}_{x} = excluded.{m}_{x}")))
            .collect();
        let t = source.time();
        format!(
            "INSERT INTO {table} (agent_key, bucket, samples, cpu_avg, cpu_max, cpu_n, \
             memory_avg, memory_max, memory_n, disk_avg, disk_max, disk_n, latency_avg, \
             latency_max, latency_n) \
             SELECT agent_key, ({t} / $3) * $3, {count}, {aggregates} FROM {source_table} \
             WHERE {slice} AND {t} >= $1 AND {t} < $2 GROUP BY 1, 2 \
             ON CONFLICT (agent_key, bucket) DO UPDATE SET samples = excluded.samples, {updates}",
            table = self.table(),
            aggregates = aggregates.join(", "),
            source_table = source.table(),
            updates = updates.join(", "),
        )
    }

    /// One agent's rows in `[$2, $3)` as [`MetricRow`] columns, oldest first.
    pub(crate) fn rows_sql(self) -> String {
        let columns = if self == Self::Raw {
            "ts, CAST(1 AS BIGINT), cpu_usage, memory_usage, disk_usage, latency_ms, \
             cpu_usage, memory_usage, disk_usage, latency_ms, \
             CAST(CASE WHEN cpu_usage IS NULL THEN 0 ELSE 1 END AS BIGINT), \
             CAST(CASE WHEN memory_usage IS NULL THEN 0 ELSE 1 END AS BIGINT), \
             CAST(CASE WHEN disk_usage IS NULL THEN 0 ELSE 1 END AS BIGINT), \
             CAST(CASE WHEN latency_ms IS NULL THEN 0 ELSE 1 END AS BIGINT)"
        } else {
            "bucket, CAST(samples AS BIGINT), cpu_avg, memory_avg, disk_avg, latency_avg, \
             cpu_max, memory_max, disk_max, latency_max, CAST(cpu_n AS BIGINT), \
             CAST(memory_n AS BIGINT), CAST(disk_n AS BIGINT), CAST(latency_n AS BIGINT)"
        };
        let t = self.time();
        format!(
            "SELECT {columns} FROM {} WHERE agent_key = $1 AND {t} >= $2 AND {t} < $3 ORDER BY {t}",
            self.table()
        )
    }
}

/// One row of a history table: a raw sample is one sample whose average and maximum are
/// its values. Metrics in the order cpu, memory, disk, latency; `n` counts the samples
/// that had each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricRow {
    /// The sample's time, or the bucket's start.
    pub ts: i64,
    pub samples: i64,
    pub avg: [Option<f64>; 4],
    pub max: [Option<f64>; 4],
    pub n: [i64; 4],
}

/// How far each rollup is final: every bucket before its mark is complete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupMarks {
    pub minute: i64,
    pub five_minutes: i64,
    pub hour: i64,
}

impl RollupMarks {
    /// The mark of a rollup (`None` for the raw samples, which are never "rolled").
    pub fn of(&self, res: Resolution) -> Option<i64> {
        match res {
            Resolution::Raw => None,
            Resolution::Minute => Some(self.minute),
            Resolution::FiveMinutes => Some(self.five_minutes),
            Resolution::Hour => Some(self.hour),
        }
    }
}

/// How a backend picks one slice's agents in [`Resolution::rollup_sql`], so that its
/// plan reads each agent's rows through the primary key (agent, time) instead of every
/// row of the window.
pub(crate) struct SliceSql {
    /// The condition on `agent_key`: the first `$5` keys from `$4` on that `metrics_keys`
    /// holds (a slice is that many agents, however sparse the keys of deleted agents
    /// have left them).
    pub keys: &'static str,
    /// Run first in the step's transaction.
    pub setup: Option<&'static str>,
}

/// PostgreSQL: an array of the slice's keys is one index scan a key; a semi-join
/// (`IN (SELECT …)`) was planned as a hash join over the whole window (measured in
/// docs/benchmarks.md). A slice sorts in memory at 32 MB (the default 4 MB spilled).
pub(crate) const PG_SLICE: SliceSql = SliceSql {
    keys: "agent_key = ANY(ARRAY(SELECT agent_key FROM metrics_keys \
           WHERE agent_key >= $4 ORDER BY agent_key LIMIT $5))",
    setup: Some("SET LOCAL work_mem = '32MB'"),
};

/// SQLite: `IN (SELECT …)` on the key's first column is a lookup a key.
pub(crate) const SQLITE_SLICE: SliceSql = SliceSql {
    keys: "agent_key IN (SELECT agent_key FROM metrics_keys \
           WHERE agent_key >= $4 ORDER BY agent_key LIMIT $5)",
    setup: None,
};

#[async_trait]
pub trait RollupStore {
    /// One step of rolling up `res` (not [`Resolution::Raw`]) towards `until` (rounded
    /// down to the step), in one transaction: the next slice of the pass under way, or
    /// the first slice of a new pass over at most `max_buckets` buckets from the mark on
    /// (skipping time its source holds nothing of). A slice is `slice_keys` agents over
    /// one bucket (fewer agents when the pass has more buckets); a pass's last slice
    /// moves the mark to its end. Returns the mark afterwards and whether this call did
    /// a step.
    async fn roll_up(
        &self,
        res: Resolution,
        until: i64,
        max_buckets: i64,
        slice_keys: i64,
    ) -> Result<(i64, bool), StoreError>;
    async fn rollup_marks(&self) -> Result<RollupMarks, StoreError>;
    /// Deletes the rows of `res` older than `before`.
    async fn prune_metrics(&self, res: Resolution, before: i64) -> Result<u64, StoreError>;
    /// The history key of the owner's agent; `None` when the agent is not theirs.
    async fn metrics_key(&self, owner: &str, agent_id: &str) -> Result<Option<i64>, StoreError>;
    /// The rows of one agent (by key) in `res` with a time in `[from, to)`, oldest first.
    async fn metric_rows(
        &self,
        key: i64,
        res: Resolution,
        from: i64,
        to: i64,
    ) -> Result<Vec<MetricRow>, StoreError>;
}

macro_rules! impl_rollup_store {
    ($store:ty, $slice:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::RollupStore for $store {
            async fn roll_up(
                &self,
                res: $crate::store::Resolution,
                until: i64,
                max_buckets: i64,
                slice_keys: i64,
            ) -> Result<(i64, bool), StoreError> {
                let step = res.step();
                let until = until - until.rem_euclid(step);
                let mut tx = self.telemetry.begin().await?;
                // The lock first (see the module docs); after waiting for another
                // replica's step, this reads the mark and pass that step left.
                let (done, pass_until, pass_key): (i64, i64, i64) = sqlx::query_as(
                    "UPDATE metrics_rollups SET done_until = done_until WHERE step = $1 \
                     RETURNING done_until, pass_until, pass_key",
                )
                .bind(step)
                .fetch_one(&mut *tx)
                .await?;
                let (from, end, key) = if pass_until > done {
                    (done, pass_until, pass_key)
                } else {
                    if done >= until {
                        return Ok((done, false));
                    }
                    let source = res.source();
                    let first: Option<i64> = sqlx::query_scalar(&format!(
                        "SELECT MIN({t}) FROM {table} WHERE {t} >= $1 AND {t} < $2",
                        t = source.time(),
                        table = source.table()
                    ))
                    .bind(done)
                    .bind(until)
                    .fetch_one(&mut *tx)
                    .await?;
                    match first {
                        None => (until, until, 0),
                        Some(first) => {
                            let from = first - first.rem_euclid(step);
                            (from, (from + max_buckets.max(1) * step).min(until), 0)
                        }
                    }
                };
                // The pass ends with the slice that reaches the last key (keys only grow:
                // an agent created after this step has no samples in a window that ended,
                // by the roll-up's grace, before it).
                let mut next: Option<i64> = None;
                if end > from {
                    if let Some(setup) = $slice.setup {
                        sqlx::query(setup).execute(&mut *tx).await?;
                    }
                    let keys = (slice_keys / ((end - from) / step).max(1)).max(1);
                    sqlx::query(&res.rollup_sql($slice.keys))
                        .bind(from)
                        .bind(end)
                        .bind(step)
                        .bind(key)
                        .bind(keys)
                        .execute(&mut *tx)
                        .await?;
                    next = sqlx::query_scalar(
                        "SELECT CAST(agent_key AS BIGINT) FROM metrics_keys \
                         WHERE agent_key >= $1 ORDER BY agent_key LIMIT 1 OFFSET $2",
                    )
                    .bind(key)
                    .bind(keys)
                    .fetch_optional(&mut *tx)
                    .await?;
                }
                let (done, pass_until, pass_key) = match next {
                    None => (end, 0, 0),
                    Some(next) => (from, end, next),
                };
                sqlx::query(
                    "UPDATE metrics_rollups SET done_until = $1, pass_until = $2, \
                     pass_key = $3 WHERE step = $4",
                )
                .bind(done)
                .bind(pass_until)
                .bind(pass_key)
                .bind(step)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok((done, true))
            }

            async fn rollup_marks(&self) -> Result<$crate::store::RollupMarks, StoreError> {
                let rows: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT CAST(step AS BIGINT), done_until FROM metrics_rollups",
                )
                .fetch_all(&self.pool)
                .await?;
                let mark = |step: i64| {
                    rows.iter()
                        .find(|(s, _)| *s == step)
                        .map_or(0, |(_, d)| *d)
                };
                Ok($crate::store::RollupMarks {
                    minute: mark(60),
                    five_minutes: mark(300),
                    hour: mark(3600),
                })
            }

            async fn prune_metrics(
                &self,
                res: $crate::store::Resolution,
                before: i64,
            ) -> Result<u64, StoreError> {
                Ok(sqlx::query(&format!(
                    "DELETE FROM {} WHERE {} < $1",
                    res.table(),
                    res.time()
                ))
                .bind(before)
                .execute(&self.telemetry)
                .await?
                .rows_affected())
            }

            async fn metrics_key(
                &self,
                owner: &str,
                agent_id: &str,
            ) -> Result<Option<i64>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT CAST(k.agent_key AS BIGINT) FROM metrics_keys k \
                     JOIN agents a ON a.id = k.agent_id WHERE a.owner_id = $1 AND a.id = $2",
                )
                .bind(owner)
                .bind(agent_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn metric_rows(
                &self,
                key: i64,
                res: $crate::store::Resolution,
                from: i64,
                to: i64,
            ) -> Result<Vec<$crate::store::MetricRow>, StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(&res.rows_sql())
                    .bind(key)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let f = |i: usize| r.try_get::<Option<f64>, _>(i);
                        Ok($crate::store::MetricRow {
                            ts: r.try_get(0)?,
                            samples: r.try_get(1)?,
                            avg: [f(2)?, f(3)?, f(4)?, f(5)?],
                            max: [f(6)?, f(7)?, f(8)?, f(9)?],
                            n: [r.try_get(10)?, r.try_get(11)?, r.try_get(12)?, r.try_get(13)?],
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }
        }
    };
}
pub(crate) use impl_rollup_store;
