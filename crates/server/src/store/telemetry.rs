//! The heartbeat flush: the SQL behind `access::latest`, which keeps each agent's latest
//! reported state and the history samples in memory and hands them here in one call of
//! [`TelemetryStore::write_telemetry`] at most a second apart.
//!
//! **Cheap updates.** Each flushed agent gets its exact `last_seen` and state, but its
//! indexed columns (`status`, and `seen_key`, the coarse last-seen key of the list's sort
//! and of the offline sweep's deadline index: migration 0017) only when the status changes
//! or `last_seen` has run 1.5 intervals past the key. So most heartbeats rewrite no index
//! entry: on PostgreSQL the update is HOT (in the same page, no index touched), on SQLite
//! no index b-tree is written.

use async_trait::async_trait;

use super::{HeartbeatRecord, HeartbeatSample, StoreError};

/// Rows per statement: at most 11 binds a row stays far below SQLite's 32 766 and PostgreSQL's
/// 65 535 bind parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 1000;

#[async_trait]
pub trait TelemetryStore {
    /// In one transaction: each agent's latest state (`latest` holds at most one record
    /// an agent) and the history samples. Agents deleted meanwhile are skipped: nothing of
    /// theirs is written, nothing fails.
    async fn write_telemetry(
        &self,
        latest: &[HeartbeatRecord],
        samples: &[HeartbeatSample],
    ) -> Result<(), StoreError>;

    /// The `agent_changes` rows (seq, agent id) of the last `window_secs` seconds by the
    /// database's clock (see migration 0015).
    async fn recent_agent_changes(
        &self,
        window_secs: i64,
    ) -> Result<Vec<(i64, String)>, StoreError>;

    /// Deletes `agent_changes` rows older than `keep_secs`.
    async fn prune_agent_changes(&self, keep_secs: i64) -> Result<u64, StoreError>;
}

/// When a flush keeps an agent's `status` and coarse `seen_key` (and so writes none of its
/// indexed columns): the heartbeat reports the stored status and its time (`v.column3`) is
/// less than 1.5 heartbeat intervals past the key. NULL (so: not kept) for a pending agent.
/// The sweep's coarse deadline, `seen_key + 3` intervals, is then more than 1.5 intervals
/// after the last flushed heartbeat, so an agent heartbeating on time moves its key before
/// it becomes a candidate of the sweep.
macro_rules! keeps_key {
    () => {
        "(agents.status = v.column2 \
         AND 2 * (v.column3 - agents.seen_key) < 3 * agents.heartbeat_interval)"
    };
}
pub(crate) use keeps_key;

/// `$db_now`: the database's clock in whole seconds, as SQL. `$lock_rows` as in
/// `batch::impl_batch_store`: with row locks, every agent row the
/// flush updates is locked first, in ascending id order (the order every multi-row
/// writer takes), so a flush and a handshake batch on another replica never deadlock.
macro_rules! impl_telemetry_store {
    ($store:ty, $db:ty, $db_now:literal, $lock_rows:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::TelemetryStore for $store {
            async fn write_telemetry(
                &self,
                latest: &[HeartbeatRecord],
                samples: &[HeartbeatSample],
            ) -> Result<(), StoreError> {
                use sqlx::QueryBuilder;
                use $crate::store::telemetry::{keeps_key, ROWS_PER_STATEMENT};
                if latest.is_empty() && samples.is_empty() {
                    return Ok(());
                }
                let mut sorted: Vec<&HeartbeatRecord> = latest.iter().collect();
                sorted.sort_unstable_by(|a, b| a.agent_id.cmp(&b.agent_id));
                let mut tx = self.telemetry.begin().await?;
                let lock_rows: Option<&str> = $lock_rows;
                if let Some(lock) = lock_rows {
                    for chunk in sorted.chunks(ROWS_PER_STATEMENT) {
                        let mut q = QueryBuilder::<$db>::new("SELECT id FROM agents WHERE id IN (");
                        let mut ids = q.separated(", ");
                        for hb in chunk {
                            ids.push_bind(&*hb.agent_id);
                        }
                        q.push(") ORDER BY id").push(lock);
                        q.build().fetch_all(&mut *tx).await?;
                    }
                }
                // Two statements a chunk (see the module: the coarse `seen_key`): first the
                // agents whose status stays and whose key is recent enough, setting only
                // unindexed columns; then the rest, with status and key. A row the first
                // wrote fails the second's condition (same status, same key), so none is
                // written twice. A flush never moves an agent back in time (two replicas'
                // flushes of the same agent may commit in either order).
                for (set, when) in [
                    ("", concat!(" AND ", keeps_key!())),
                    (
                        "status = v.column2, seen_key = v.column3, ",
                        concat!(" AND NOT COALESCE(", keeps_key!(), ", FALSE)"),
                    ),
                ] {
                    for chunk in sorted.chunks(ROWS_PER_STATEMENT) {
                        let mut q = QueryBuilder::<$db>::new(format!(
                            "UPDATE agents SET {set}last_seen = v.column3, metrics = v.column4, \
                             agent_version = COALESCE(v.column5, agents.agent_version), \
                             config_version_applied = COALESCE(v.column6, agents.config_version_applied), \
                             last_error = v.column7, machine_id = COALESCE(v.column8, agents.machine_id), \
                             location = COALESCE(v.column9, agents.location), \
                             model = COALESCE(v.column10, agents.model), \
                             config_delivery = v.column11 FROM ("
                        ));
                        q.push_values(chunk, |mut b, hb| {
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
                                .push_bind(hb.config_delivery);
                        });
                        q.push(
                            ") AS v WHERE agents.id = v.column1 \
                             AND (agents.last_seen IS NULL OR agents.last_seen <= v.column3)",
                        );
                        q.push(when);
                        q.build().execute(&mut *tx).await?;
                    }
                }
                // Raw history samples, under each agent's history key (an agent deleted
                // meanwhile has none: its samples are skipped); one per agent and second.
                for chunk in samples.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(
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
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn recent_agent_changes(
                &self,
                window_secs: i64,
            ) -> Result<Vec<(i64, String)>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT seq, agent_id FROM agent_changes WHERE at >= ",
                    $db_now,
                    " - $1"
                ))
                .bind(window_secs)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn prune_agent_changes(&self, keep_secs: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query(concat!("DELETE FROM agent_changes WHERE at < ", $db_now, " - $1"))
                    .bind(keep_secs)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}
pub(crate) use impl_telemetry_store;
