//! The embedded default backend: a SQLite file in the data dir, in WAL mode with a busy
//! timeout and foreign keys on.
//!
//! Durability: every control-plane write (accounts, sessions, agents, secrets, configs,
//! master keys, used signatures, agent tokens) commits on connections with
//! `synchronous=FULL`, so the WAL is synced to disk before the write is acknowledged and a
//! power loss cannot take back a rotation or a saved config. Heartbeats are telemetry
//! (which the agents send again within seconds): they are acknowledged from memory and
//! flushed every 250 ms by `access::latest` (a crash loses at most that last interval,
//! about a second at worst; a graceful stop flushes), on a separate connection with
//! `synchronous=NORMAL`: at worst the last moments of telemetry are lost, the database is
//! never corrupted, and a later FULL commit syncs them too.
//!
//! Checkpoints: besides SQLite's own (in the commit that crosses 1 000 log pages), a
//! background task ([`checkpointer`]) copies the log into the database file every 500 ms,
//! so those find little left to copy. (With SQLite's own turned off, the log reached
//! 185 MB in a 40 s benchmark: not landed.) A commit's durability is its log sync. When
//! the log has grown long the checkpointer restarts it, waiting at most
//! [`RESTART_WAIT`] for the locks that takes, since every writer waits behind it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Acquire, Connection, SqlitePool};

use super::accounts::impl_account_store;
use super::activity::impl_activity_store;
use super::agent_list::impl_list_store;
use super::agents::impl_agent_store;
use super::alerts::impl_alert_store;
use super::batch::{impl_batch_store, BatchConnection};
use super::edits::impl_edit_store;
use super::fleets::impl_fleet_store;
use super::history::impl_history_store;
use super::identity::impl_identity_store;
use super::lock::impl_lock_store_sqlite;
use super::maintenance::impl_maintenance_store;
use super::reseal::impl_reseal_store;
use super::rollups::impl_rollup_store;
use super::stats::impl_stats_store;
use super::telemetry::impl_telemetry_store;
use super::users::impl_user_store;
use super::*;

/// SQLite's own default page cache (2 MiB), for the control-plane connections.
const DEFAULT_CACHE: &str = "-2000";
/// The heartbeat flush's connection (in KiB, negative): each flush rewrites every
/// reporting agent's row, its last-seen indexes and the history indexes, pages spread
/// over the whole table; with the default 2 MiB every other page was a `read()` again.
const TELEMETRY_CACHE: &str = "-65536";
/// The handshake batches' connection (KiB, negative): room for the agent rows and the
/// used-signature index pages a reconnect storm touches.
const HANDSHAKE_CACHE: &str = "-32768";

/// The `synchronous` level of each write path.
#[derive(Debug, Clone, Copy)]
pub struct SqliteDurability {
    pub control: SqliteSynchronous,
    pub telemetry: SqliteSynchronous,
}

impl Default for SqliteDurability {
    fn default() -> Self {
        Self {
            control: SqliteSynchronous::Full,
            telemetry: SqliteSynchronous::Normal,
        }
    }
}

pub struct SqliteStore {
    pool: SqlitePool,
    telemetry: SqlitePool,
    /// The handshake batches' own connection (`BatchStore`), control-plane durable. SQLite
    /// drops a connection's whole page cache when another connection has written since
    /// its last transaction; with the batches always on this one (the only frequent
    /// control-plane writer), its cache of agent rows and used-signature index pages
    /// stays warm instead of being re-read from the file for every batch.
    handshakes: BatchConnection<sqlx::Sqlite>,
    /// The change-log watcher's own connection (`access::cache`): its read every second
    /// never queues behind requests for the pool, which fall back to the database while
    /// the cache waits for that read.
    watch: SqlitePool,
    _checkpointer: Checkpointer,
}

/// How often the background checkpointer copies the log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// Log frames (pages) past which the checkpointer restarts the log: a passive checkpoint
/// never blocks a writer, but while writers keep appending the log is never found fully
/// copied, so it would grow without end; `RESTART` waits for the write lock once, when
/// what remains to copy is little.
const RESTART_FRAMES: i64 = 16_384;
/// The checkpointer connection's busy timeout: how long a `RESTART` waits for the write
/// lock and then, holding it, for readers, before it gives up until its next turn
/// (passive for that once: nothing is lost). Every writer waits behind it meanwhile: the
/// heartbeat flush, and the control-plane writes (handshakes, saves). At the pool's 10 s a
/// restart under the open loop took up to 9.6 s, and a probe writer waited up to 3.4 s
/// for the write lock; at this wait, 0.7 s (docs/benchmarks.md).
const RESTART_WAIT: Duration = Duration::from_millis(100);

/// Stops the checkpointer when the store goes.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Checkpoints on its own connection every [`CHECKPOINT_EVERY`] (see the module doc).
async fn checkpointer(conn: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let passive: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&conn)
            .await;
        let restart = match passive {
            Ok((_, log, _)) => log >= RESTART_FRAMES,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                false
            }
        };
        if restart {
            let started = std::time::Instant::now();
            let restarted: Result<(i64, i64, i64), _> =
                sqlx::query_as("PRAGMA wal_checkpoint(RESTART)")
                    .fetch_one(&conn)
                    .await;
            match restarted {
                // Blocked (busy = 1): what it could copy is copied; the next turn retries.
                Ok((busy, log, copied)) => tracing::debug!(
                    busy,
                    log,
                    copied,
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "WAL checkpoint (restart)"
                ),
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint (restart) failed"),
            }
        }
    }
}

impl SqliteStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, SqliteDurability::default()).await
    }

    /// [`Self::connect`] with other `synchronous` levels (the durability benchmark
    /// measures what FULL costs against NORMAL).
    pub async fn connect_with(url: &str, durability: SqliteDurability) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("invalid SQLite URL {}: {e}", redact_url(url)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let open_waiting = |max, sync, cache: &'static str, busy: Duration| {
            SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(
                    options
                        .clone()
                        .busy_timeout(busy)
                        .synchronous(sync)
                        .pragma("cache_size", cache),
                )
        };
        let open = |max, sync, cache| open_waiting(max, sync, cache, Duration::from_secs(10));
        let pool = open(4, durability.control, DEFAULT_CACHE)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open SQLite database {}: {e}", redact_url(url)))?;
        migrate(&pool).await?;
        let telemetry = open(1, durability.telemetry, TELEMETRY_CACHE).await?;
        let handshakes = open(1, durability.control, HANDSHAKE_CACHE).await?;
        let checkpoints = open_waiting(1, durability.control, DEFAULT_CACHE, RESTART_WAIT).await?;
        let watch = open(1, durability.control, DEFAULT_CACHE).await?;
        Ok(Self {
            pool,
            telemetry,
            handshakes: BatchConnection::new(handshakes),
            watch,
            _checkpointer: Checkpointer(tokio::spawn(checkpointer(checkpoints))),
        })
    }

    /// `PRAGMA synchronous` as in effect on every control-plane connection (the pool's,
    /// then the handshake batches') and on the telemetry connection (0 OFF, 1 NORMAL,
    /// 2 FULL, 3 EXTRA).
    pub async fn synchronous_levels(&self) -> Result<(Vec<i64>, Vec<i64>), StoreError> {
        let mut control = levels(&self.pool).await?;
        let mut held = self.handshakes.take().await?;
        control.push(
            sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *held.conn())
                .await?,
        );
        held.keep();
        Ok((control, levels(&self.telemetry).await?))
    }
}

/// Runs the migrations holding the database's write lock, so two processes starting on a
/// new file at once do not both create the schema: the second waits, then finds it made.
async fn migrate(pool: &SqlitePool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::migrate!("./migrations/sqlite")
        .run(tx.acquire().await?)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn levels(pool: &SqlitePool) -> Result<Vec<i64>, StoreError> {
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await?);
    }
    let mut out = Vec::new();
    for conn in &mut held {
        out.push(
            sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await?,
        );
    }
    Ok(out)
}

impl NotifyStore for SqliteStore {}
impl_user_store!(SqliteStore);
impl_fleet_store!(SqliteStore);
impl_agent_store!(SqliteStore, sqlx::Sqlite);
impl_list_store!(SqliteStore, sqlx::Sqlite, "EXPLAIN QUERY PLAN", 3, true, "");
impl_batch_store!(
    SqliteStore,
    sqlx::Sqlite,
    "BEGIN IMMEDIATE",
    "",
    super::batch_sql::sqlite
);
impl_telemetry_store!(
    SqliteStore,
    "CAST(strftime('%s', 'now') AS INTEGER)",
    super::telemetry_sql::sqlite
);
impl_maintenance_store!(SqliteStore);
impl_edit_store!(SqliteStore);
impl_history_store!(SqliteStore);
impl_identity_store!(SqliteStore);
impl_stats_store!(SqliteStore);
impl_account_store!(SqliteStore);
impl_activity_store!(SqliteStore);
impl_alert_store!(SqliteStore);
impl_reseal_store!(SqliteStore);
impl_rollup_store!(SqliteStore, super::rollups::SQLITE_SLICE);
impl_lock_store_sqlite!(SqliteStore);
