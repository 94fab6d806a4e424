//! The heartbeat flush: the SQL behind `access::latest`, which keeps each agent's latest
//! reported state and the history samples in memory and hands them here in one call of
//! [`TelemetryStore::write_telemetry`] at most a second apart.

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
                use $crate::store::telemetry::ROWS_PER_STATEMENT;
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
                for chunk in sorted.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(
                        "UPDATE agents SET status = v.column2, last_seen = v.column3, metrics = v.column4, \
                         agent_version = COALESCE(v.column5, agents.agent_version), \
                         config_version_applied = COALESCE(v.column6, agents.config_version_applied), \
                         last_error = v.column7, machine_id = COALESCE(v.column8, agents.machine_id), \
                         location = COALESCE(v.column9, agents.location), \
                         model = COALESCE(v.column10, agents.model), \
                         config_delivery = v.column11 FROM (",
                    );
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
                    // A flush never moves an agent back in time (two replicas' flushes of
                    // the same agent may commit in either order).
                    q.push(
                        ") AS v WHERE agents.id = v.column1 \
                         AND (agents.last_seen IS NULL OR agents.last_seen <= v.column3)",
                    );
                    q.build().execute(&mut *tx).await?;
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
