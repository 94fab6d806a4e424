//! The PostgreSQL backend, for when one machine is not enough: several server replicas
//! share one database (and so share used signatures and token revocations).
//!
//! Durability: a commit is acknowledged only once PostgreSQL has flushed it. Heartbeats,
//! telemetry, are the exception: acknowledged from memory and flushed every 250 ms by
//! `access::latest` (each replica flushes what it received), so a crash of a replica
//! loses at most that last interval of its heartbeats, and a graceful stop flushes. A database or
//! role configured with `synchronous_commit = off` is overridden to `on` on this server's
//! connections (stronger levels such as `remote_apply` are kept), with a warning; a server
//! running with `fsync = off` cannot be fixed from here and is warned about at start, as
//! is one running with `autovacuum = off` (every heartbeat flush updates agents' rows, so
//! without vacuum their table and indexes only grow: docs/benchmarks.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection, PgPool};

use super::accounts::impl_account_store;
use super::activity::impl_activity_store;
use super::agent_list::impl_list_store;
use super::agents::impl_agent_store;
use super::alerts::impl_alert_store;
use super::batch::{impl_batch_store, BatchConnection};
use super::db_url;
use super::edits::impl_edit_store;
use super::fleets::impl_fleet_store;
use super::history::impl_history_store;
use super::identity::impl_identity_store;
use super::lock::impl_lock_store_postgres;
use super::maintenance::impl_maintenance_store;
use super::reseal::impl_reseal_store;
use super::rollups::impl_rollup_store;
use super::stats::impl_stats_store;
use super::telemetry::impl_telemetry_store;
use super::users::impl_user_store;
use super::*;

pub struct PostgresStore {
    pool: PgPool,
    /// The heartbeat-only write path; the same durable pool on this backend.
    telemetry: PgPool,
    /// The handshake batches' connection, held (opened from the pool, then detached).
    handshakes: BatchConnection<sqlx::Postgres>,
    /// The change-log watcher's own connection (`access::cache`): its read every second
    /// never queues behind requests for the pool. While that read is late the cache is not
    /// trusted and every heartbeat reads its token and row from the pool; with the read in
    /// the same queue, the cache could not come back while the pool stayed busy. (It was
    /// first suspected of the open loop stuck at p50 10 s with the server idle; that was a
    /// blocking log write: docs/benchmarks.md.)
    watch: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let (parsed, dropped) = db_url::postgres_url(url)?;
        if !dropped.is_empty() {
            tracing::warn!(
                parameters = %dropped.join(", "),
                "database URL parameters not supported by this server were ignored"
            );
        }
        let options = PgConnectOptions::from_url(&parsed)
            .map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL {}: {e}", redact_url(url)))?;
        let warned = Arc::new(AtomicBool::new(false));
        let pool_of = |max: u32| {
            let warned = warned.clone();
            PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    let warned = warned.clone();
                    Box::pin(async move { durable_commits(conn, &warned).await })
                })
                .connect_with(options.clone())
        };
        let cannot = |e: sqlx::Error| {
            anyhow::anyhow!("cannot connect to PostgreSQL at {}: {e}", redact_url(url))
        };
        let pool = pool_of(16).await.map_err(cannot)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let (fsync, autovacuum): (String, String) =
            sqlx::query_as("SELECT current_setting('fsync'), current_setting('autovacuum')")
                .fetch_one(&pool)
                .await?;
        if fsync != "on" {
            tracing::warn!(
                "the PostgreSQL server runs with fsync = {fsync}: a crash of its host can lose \
                 acknowledged writes (rotations, saved configs) or corrupt the database"
            );
        }
        if autovacuum != "on" {
            tracing::warn!(
                "the PostgreSQL server runs with autovacuum = {autovacuum}: heartbeats update \
                 every agent's row all the time, so its table and indexes grow without bound \
                 and the planner has no statistics; turn autovacuum on (or vacuum and analyze \
                 on a schedule)"
            );
        }
        let watch = pool_of(1).await.map_err(cannot)?;
        Ok(Self {
            telemetry: pool.clone(),
            handshakes: BatchConnection::new(pool.clone()),
            pool,
            watch,
        })
    }

    /// `synchronous_commit` as in effect on every connection of the pool.
    pub async fn synchronous_commit_levels(&self) -> Result<Vec<String>, StoreError> {
        let mut held = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            held.push(self.pool.acquire().await?);
        }
        let mut out = Vec::new();
        for conn in &mut held {
            out.push(
                sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
                    .fetch_one(&mut **conn)
                    .await?,
            );
        }
        Ok(out)
    }
}

/// Turns `synchronous_commit = off` (set on the database, the role or the server) back on
/// for this connection.
async fn durable_commits(conn: &mut PgConnection, warned: &AtomicBool) -> Result<(), sqlx::Error> {
    let level: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
        .fetch_one(&mut *conn)
        .await?;
    if level == "off" {
        sqlx::query("SET synchronous_commit = on")
            .execute(&mut *conn)
            .await?;
        if !warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "PostgreSQL is configured with synchronous_commit = off; this server sets it \
                 to on for its own connections, so nothing is acknowledged before it is durable"
            );
        }
    }
    Ok(())
}

impl_user_store!(PostgresStore);
impl_fleet_store!(PostgresStore);
impl_agent_store!(PostgresStore, sqlx::Postgres);
impl_list_store!(
    PostgresStore,
    sqlx::Postgres,
    "EXPLAIN",
    0,
    false,
    " FOR NO KEY UPDATE SKIP LOCKED"
);
impl_batch_store!(
    PostgresStore,
    sqlx::Postgres,
    "BEGIN",
    " FOR NO KEY UPDATE",
    super::batch_sql::postgres
);
impl_telemetry_store!(
    PostgresStore,
    "EXTRACT(EPOCH FROM clock_timestamp())::BIGINT",
    super::telemetry_sql::postgres
);
impl_maintenance_store!(PostgresStore);
impl_edit_store!(PostgresStore);
impl_history_store!(PostgresStore);
impl_identity_store!(PostgresStore);
impl_stats_store!(PostgresStore);
impl_account_store!(PostgresStore);
impl_activity_store!(PostgresStore);
impl_alert_store!(PostgresStore);
impl_reseal_store!(PostgresStore);
impl_rollup_store!(PostgresStore, super::rollups::PG_SLICE);
impl_lock_store_postgres!(PostgresStore);

impl NotifyStore for PostgresStore {
    fn pg_pool(&self) -> Option<PgPool> {
        Some(self.pool.clone())
    }
}
