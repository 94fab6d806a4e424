//! The heartbeat flush: the SQL behind `access::latest`, which keeps each agent's latest
//! reported state and the history samples in memory and hands them here in one call of
//! [`TelemetryStore::write_telemetry`] at most a second apart.
//!
//! **Cheap updates.** Each flushed agent gets its exact `last_seen` and state, but its
//! indexed columns (`status`, and `seen_key`, the coarse last-seen key of the list's sort:
//! migrations 0017 and 0018) only when the status changes or `last_seen` has run a
//! step of one to three minutes past the key ([`KEY_STEP_SECS`]). So most heartbeats
//! rewrite no index entry: on PostgreSQL the update is HOT (in the same page, no index
//! touched), on SQLite no index b-tree is written. A moved key is the expensive case (on PostgreSQL a non-HOT update
//! writes an entry into each of the table's 13 indexes: about 12 times a HOT update's cost,
//! measured), so it moves about once every two minutes an agent, whatever its interval.
//! The statements are in `telemetry_sql`.

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

/// How far (seconds) `last_seen` may run past an agent's `seen_key` before a flush moves
/// the key: drawn anew for each agent in each flush from this range, so the list sorted by
/// last seen is ordered to within three minutes (docs/api.md "Listing agents"). Drawn, not
/// fixed: agents whose keys moved together (a reconnect storm's first heartbeats all change
/// status) would otherwise all move them again one step later, and at 100 000 agents that
/// burst of index writes took the database's whole time (docs/benchmarks.md).
pub(crate) const KEY_STEP_SECS: std::ops::Range<i64> = 60..180;

/// One step from [`KEY_STEP_SECS`] for each of `n` records (bound with them: the SQL's
/// `v.column12`).
pub(crate) fn key_steps(n: usize) -> Vec<i64> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n).map(|_| rng.gen_range(KEY_STEP_SECS)).collect()
}

/// When a flush keeps an agent's `status` and coarse `seen_key` (and so writes none of its
/// indexed columns): the heartbeat reports the stored status and its time (`v.column3`) is
/// less than its drawn step (`v.column12`, see [`KEY_STEP_SECS`]) past the key. NULL (so:
/// not kept) for a pending agent. Nothing else reads the key: the offline sweep reads the
/// exact `last_seen` (migration 0018), so an agent at a 10 s interval moves its key about
/// every twelfth heartbeat rather than every other one.
macro_rules! keeps_key {
    () => {
        "(agents.status = v.column2 AND v.column3 - agents.seen_key < v.column12)"
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
                .fetch_all(&self.watch)
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
