//! The heartbeat flush: the SQL behind `access::latest`, which keeps each agent's latest
//! reported state and the history samples in memory and hands them here in one call of
//! [`TelemetryStore::write_telemetry`] at most a second apart.
//!
//! **Cheap updates.** Each flushed agent gets its exact `last_seen` and state, but its
//! indexed columns (`status`, and `seen_key`, the coarse last-seen key of the list's sort
//! and of the offline sweep's deadline index: migration 0017) only when the status changes
//! or `last_seen` has run 1.5 intervals past the key. So most heartbeats rewrite no index
//! entry: on PostgreSQL the update is HOT (in the same page, no index touched), on SQLite
//! no index b-tree is written. The statements are in `telemetry_sql`.

use async_trait::async_trait;

use super::{HeartbeatRecord, HeartbeatSample, StoreError};

/// Rows per statement: SQLite's 11 binds a row stay far below its 32 766 bind parameters
/// (PostgreSQL binds one array a column).
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

/// `$db_now`: the database's clock in whole seconds, as SQL. `$sql`: the module of
/// `telemetry_sql` with the backend's statements (which lock rows, on a backend with row
/// locks, in ascending id order: see `batch::impl_batch_store`).
macro_rules! impl_telemetry_store {
    ($store:ty, $db_now:literal, $sql:path) => {
        #[async_trait::async_trait]
        impl $crate::store::TelemetryStore for $store {
            async fn write_telemetry(
                &self,
                latest: &[HeartbeatRecord],
                samples: &[HeartbeatSample],
            ) -> Result<(), StoreError> {
                use $sql as sql;
                if latest.is_empty() && samples.is_empty() {
                    return Ok(());
                }
                let mut sorted: Vec<&HeartbeatRecord> = latest.iter().collect();
                sorted.sort_unstable_by(|a, b| a.agent_id.cmp(&b.agent_id));
                let mut tx = self.telemetry.begin().await?;
                sql::write_latest(&mut tx, &sorted).await?;
                sql::write_samples(&mut tx, samples).await?;
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
                Ok(sqlx::query(concat!(
                    "DELETE FROM agent_changes WHERE at < ",
                    $db_now,
                    " - $1"
                ))
                .bind(keep_secs)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }
        }
    };
}
pub(crate) use impl_telemetry_store;
