//! Storage: one narrow async interface ([`Store`]), two backends.
//!
//! The SQL is written once, in the `impl_*` macros of the submodules, and expanded for
//! each backend's own pool type ([`sqlite::SqliteStore`], [`postgres::PostgresStore`]):
//! two statically typed implementations, no dialect drift. The backend is chosen once,
//! from the database URL's scheme. Owner-scoped methods take the owner's id and filter
//! on it in SQL; only the access layer (`crate::access`) calls them.

mod accounts;
pub mod activity;
pub mod agent_list;
mod agents;
pub mod alerts;
mod batch;
mod batch_sql;
mod db_url;
mod edits;
mod fleets;
mod history;
mod identity;
pub mod lock;
pub mod maintenance;
pub mod models;
pub mod postgres;
pub mod reseal;
pub mod rollups;
pub mod sqlite;
mod stats;
pub(crate) mod telemetry;
mod telemetry_sql;
mod users;

use std::path::Path;
use std::sync::Arc;

pub use accounts::{AccountRow, AccountStore, SessionRow};
pub use activity::{Activity, ActivityRow, ActivityStore, Coalesce};
pub use agent_list::{AgentListing, KeyValue, ListStore, SortKey, StatusCounts};
pub use agents::AgentStore;
pub use alerts::{AlertRuleRow, AlertSeed, AlertStore, DeliveryRow};
pub use batch::{BatchStore, SecretUse};
pub use db_url::redact_url;
pub use edits::{AgentUpdate, EditStore, UpdateOutcome};
pub use fleets::FleetStore;
pub use history::{
    history_row, HistoryEntry, HistoryRow, HistoryStore, HISTORY_KEPT, HISTORY_ROW_SQL,
};
pub use identity::{
    AgentCredentials, Enrolled, IdentityStore, NewEnrollment, IDENTITY_ED25519, IDENTITY_HMAC,
};
pub use lock::{DbLock, LockStore};
pub use maintenance::MaintenanceStore;
pub use models::*;
pub use reseal::ResealStore;
pub use rollups::{MetricRow, Resolution, RollupMarks, RollupStore};
pub use stats::StatsStore;
pub use telemetry::TelemetryStore;
pub use users::UserStore;

/// The database's own notification channel, when it has one: PostgreSQL's pool (for
/// `LISTEN/NOTIFY` between replicas, see `access::bus`); `None` on SQLite.
pub trait NotifyStore {
    fn pg_pool(&self) -> Option<sqlx::PgPool> {
        None
    }
}

/// Everything the server needs from its database.
pub trait Store:
    UserStore
    + FleetStore
    + AgentStore
    + ListStore
    + BatchStore
    + TelemetryStore
    + MaintenanceStore
    + EditStore
    + HistoryStore
    + StatsStore
    + ResealStore
    + LockStore
    + AccountStore
    + NotifyStore
    + ActivityStore
    + AlertStore
    + IdentityStore
    + RollupStore
    + Send
    + Sync
{
}
impl<T> Store for T where
    T: UserStore
        + FleetStore
        + AgentStore
        + ListStore
        + BatchStore
        + TelemetryStore
        + MaintenanceStore
        + EditStore
        + HistoryStore
        + StatsStore
        + ResealStore
        + LockStore
        + AccountStore
        + NotifyStore
        + ActivityStore
        + AlertStore
        + IdentityStore
        + RollupStore
        + Send
        + Sync
{
}

pub type SharedStore = Arc<dyn Store>;

/// Storage failures the API distinguishes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    fn from_insert(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Db(err),
        }
    }
}

impl From<StoreError> for crate::error::ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => crate::error::ApiError::Conflict("already exists".into()),
            StoreError::Db(e) => e.into(),
        }
    }
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => anyhow::bail!(
                "unsupported database URL scheme {scheme:?}: use sqlite://PATH (the default, \
                 a file in the data dir) or postgres://USER@HOST:PORT/DB"
            ),
        }
    }
}

/// The default database URL: a SQLite file in the data dir.
pub fn default_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("fleet.db").display())
}

/// Connects to the database the URL names and runs its migrations.
pub async fn connect(url: &str) -> anyhow::Result<SharedStore> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url).await?),
        Backend::Postgres => Arc::new(postgres::PostgresStore::connect(url).await?),
    })
}
