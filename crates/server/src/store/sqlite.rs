//! The embedded default backend: a SQLite file in the data dir, in WAL mode with a busy
//! timeout and foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::agents::impl_agent_store;
use super::batch::impl_batch_store;
use super::edits::impl_edit_store;
use super::fleets::impl_fleet_store;
use super::history::impl_history_store;
use super::maintenance::impl_maintenance_store;
use super::users::impl_user_store;
use super::*;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("invalid SQLite URL {}: {e}", redact_url(url)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open SQLite database {}: {e}", redact_url(url)))?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

impl_user_store!(SqliteStore);
impl_fleet_store!(SqliteStore);
impl_agent_store!(SqliteStore, sqlx::Sqlite);
impl_batch_store!(SqliteStore, sqlx::Sqlite);
impl_maintenance_store!(SqliteStore);
impl_edit_store!(SqliteStore);
impl_history_store!(SqliteStore);
