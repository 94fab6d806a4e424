//! The statements of a heartbeat flush (`telemetry::impl_telemetry_store`) that differ by
//! backend. Both write, for each agent, its exact `last_seen` and state, and its indexed
//! `status` and coarse `seen_key` only as `telemetry::keeps_key` allows; neither moves an
//! agent back in time (two replicas' flushes of one agent may commit in either order); an
//! agent deleted meanwhile is skipped (no row to update, no history key).
//!
//! SQLite decides which index b-trees an update writes by its SET list, so each chunk is
//! sent as two statements (kept-key rows setting only unindexed columns, then the rest),
//! with bound lists. PostgreSQL decides HOT by value (an update that leaves every indexed
//! column's value as it was touches no index), so each chunk is one statement
//! (`seen_key = CASE …`) that binds arrays: one shape whatever the chunk's size, prepared
//! once per connection.

use crate::store::{HeartbeatRecord, HeartbeatSample, StoreError};

pub mod sqlite {
    use sqlx::{QueryBuilder, Sqlite, Transaction};

    use super::*;
    use crate::store::telemetry::{keeps_key, key_steps, ROWS_PER_STATEMENT};

    /// The agents' latest states (`sorted`: ascending id, one record an agent).
    pub async fn write_latest(
        tx: &mut Transaction<'static, Sqlite>,
        sorted: &[&HeartbeatRecord],
    ) -> Result<(), StoreError> {
        // A row the first statement wrote fails the second's condition (same status, same
        // key, the same drawn step), so none is written twice, and none is left out.
        let steps = key_steps(sorted.len());
        for (set, when) in [
            ("", concat!(" AND ", keeps_key!())),
            (
                "status = v.column2, seen_key = v.column3, ",
                concat!(" AND NOT COALESCE(", keeps_key!(), ", FALSE)"),
            ),
        ] {
            for (chunk, steps) in sorted
                .chunks(ROWS_PER_STATEMENT)
                .zip(steps.chunks(ROWS_PER_STATEMENT))
            {
                let mut q = QueryBuilder::<Sqlite>::new(format!(
                    "UPDATE agents SET {set}last_seen = v.column3, metrics = v.column4, \
                     agent_version = COALESCE(v.column5, agents.agent_version), \
                     config_version_applied = COALESCE(v.column6, agents.config_version_applied), \
                     last_error = v.column7, machine_id = COALESCE(v.column8, agents.machine_id), \
                     location = COALESCE(v.column9, agents.location), \
                     model = COALESCE(v.column10, agents.model), \
                     config_delivery = v.column11 FROM ("
                ));
                q.push_values(chunk.iter().zip(steps), |mut b, (hb, step)| {
                    b.push_bind(&*hb.agent_id)
                        .push_bind(hb.status)
                        .push_bind(hb.ts)
                        .push_bind(&hb.metrics_json)
                        .push_bind(&hb.agent_version)
                        .push_bind(hb.config_version_applied)
                        .push_bind(&hb.error)
                        .push_bind(&hb.machine_id)
                        .push_bind(&hb.location)
                        .push_bind(&hb.model)
                        .push_bind(hb.config_delivery)
                        .push_bind(*step);
                });
                q.push(
                    ") AS v WHERE agents.id = v.column1 \
                     AND (agents.last_seen IS NULL OR agents.last_seen <= v.column3)",
                );
                q.push(when);
                q.build().execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// Raw history samples, under each agent's history key; one per agent and second.
    pub async fn write_samples(
        tx: &mut Transaction<'static, Sqlite>,
        samples: &[HeartbeatSample],
    ) -> Result<(), StoreError> {
        for chunk in samples.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO metrics_raw (agent_key, ts, cpu_usage, memory_usage, disk_usage, latency_ms) \
                 SELECT k.agent_key, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (",
            );
            q.push_values(chunk, |mut b, s| {
                b.push_bind(&*s.agent_id)
                    .push_bind(s.ts)
                    .push_bind(s.cpu_usage)
                    .push_bind(s.memory_usage)
                    .push_bind(s.disk_usage)
                    .push_bind(s.latency_ms);
            });
            q.push(
                ") AS v JOIN metrics_keys k ON k.agent_id = v.column1 WHERE true \
                 ON CONFLICT (agent_key, ts) DO NOTHING",
            );
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }
}

pub mod postgres {
    use sqlx::{Postgres, Transaction};

    use super::*;
    use crate::store::telemetry::{keeps_key, key_steps, ROWS_PER_STATEMENT};

    /// One statement a chunk. `l` locks the chunk's rows in ascending id order (the order
    /// every multi-row writer takes, so a flush and a handshake batch on another replica
    /// never deadlock) before the update touches any: `(SELECT COUNT(*) FROM l) >= 0`
    /// refers to no row of the update, so PostgreSQL makes it a one-time filter, evaluated
    /// (all of `l` locked) before the join below it yields a row. (Joining `l` into the
    /// update instead gave a nested loop over the two unestimated row sets: 156 ms for
    /// 1 000 rows against 11 ms.) Neither statement searches an array linearly (`= ANY`
    /// over a sequential scan): both join `UNNEST`. `status` is set to the value it keeps
    /// in the common case, which PostgreSQL does not count as a change: the update stays
    /// HOT unless the status or the key moves.
    const LATEST: &str = concat!(
        "WITH l AS (SELECT a.id FROM agents a JOIN UNNEST($1::text[]) AS u (id) ON u.id = a.id \
           ORDER BY a.id FOR NO KEY UPDATE OF a) \
         UPDATE agents SET status = v.column2, \
         seen_key = CASE WHEN ",
        keeps_key!(),
        " THEN agents.seen_key ELSE v.column3 END, \
         last_seen = v.column3, metrics = v.column4, \
         agent_version = COALESCE(v.column5, agents.agent_version), \
         config_version_applied = COALESCE(v.column6, agents.config_version_applied), \
         last_error = v.column7, machine_id = COALESCE(v.column8, agents.machine_id), \
         location = COALESCE(v.column9, agents.location), \
         model = COALESCE(v.column10, agents.model), config_delivery = v.column11 \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
           $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
           $12::bigint[]) \
           AS v (column1, column2, column3, column4, column5, column6, column7, column8, \
                 column9, column10, column11, column12) \
         WHERE (SELECT COUNT(*) FROM l) >= 0 AND agents.id = v.column1 \
         AND (agents.last_seen IS NULL OR agents.last_seen <= v.column3)"
    );

    const SAMPLES: &str = "INSERT INTO metrics_raw \
           (agent_key, ts, cpu_usage, memory_usage, disk_usage, latency_ms) \
         SELECT k.agent_key, v.ts, v.cpu, v.memory, v.disk, v.latency \
         FROM UNNEST($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], \
           $6::float8[]) AS v (agent_id, ts, cpu, memory, disk, latency) \
         JOIN metrics_keys k ON k.agent_id = v.agent_id \
         ON CONFLICT (agent_key, ts) DO NOTHING";

    /// As `sqlite::write_latest`, one statement a chunk.
    pub async fn write_latest(
        tx: &mut Transaction<'static, Postgres>,
        sorted: &[&HeartbeatRecord],
    ) -> Result<(), StoreError> {
        let steps = key_steps(sorted.len());
        for (chunk, steps) in sorted
            .chunks(ROWS_PER_STATEMENT)
            .zip(steps.chunks(ROWS_PER_STATEMENT))
        {
            fn col<'a, T>(
                c: &[&'a HeartbeatRecord],
                f: impl Fn(&'a HeartbeatRecord) -> T,
            ) -> Vec<T> {
                c.iter().map(|hb| f(hb)).collect()
            }
            sqlx::query(LATEST)
                .bind(col(chunk, |hb| &*hb.agent_id))
                .bind(col(chunk, |hb| hb.status))
                .bind(col(chunk, |hb| hb.ts))
                .bind(col(chunk, |hb| hb.metrics_json.as_str()))
                .bind(col(chunk, |hb| hb.agent_version.as_deref()))
                .bind(col(chunk, |hb| hb.config_version_applied))
                .bind(col(chunk, |hb| hb.error.as_deref()))
                .bind(col(chunk, |hb| hb.machine_id.as_deref()))
                .bind(col(chunk, |hb| hb.location.as_deref()))
                .bind(col(chunk, |hb| hb.model.as_deref()))
                .bind(col(chunk, |hb| hb.config_delivery))
                .bind(steps)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// As `sqlite::write_samples`, one statement a chunk.
    pub async fn write_samples(
        tx: &mut Transaction<'static, Postgres>,
        samples: &[HeartbeatSample],
    ) -> Result<(), StoreError> {
        for chunk in samples.chunks(ROWS_PER_STATEMENT) {
            let col = |f: fn(&HeartbeatSample) -> Option<f64>| -> Vec<Option<f64>> {
                chunk.iter().map(f).collect()
            };
            sqlx::query(SAMPLES)
                .bind(chunk.iter().map(|s| &*s.agent_id).collect::<Vec<&str>>())
                .bind(chunk.iter().map(|s| s.ts).collect::<Vec<i64>>())
                .bind(col(|s| s.cpu_usage))
                .bind(col(|s| s.memory_usage))
                .bind(col(|s| s.disk_usage))
                .bind(col(|s| s.latency_ms))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}
