//! The PostgreSQL backend, for when one machine is not enough: several server replicas
//! share one database (and so share used signatures and token revocations).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use super::agents::impl_agent_store;
use super::batch::impl_batch_store;
use super::db_url;
use super::edits::impl_edit_store;
use super::fleets::impl_fleet_store;
use super::history::impl_history_store;
use super::maintenance::impl_maintenance_store;
use super::users::impl_user_store;
use super::*;

pub struct PostgresStore {
    pool: PgPool,
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
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot connect to PostgreSQL at {}: {e}", redact_url(url))
            })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

impl_user_store!(PostgresStore);
impl_fleet_store!(PostgresStore);
impl_agent_store!(PostgresStore, sqlx::Postgres);
impl_batch_store!(PostgresStore, sqlx::Postgres);
impl_maintenance_store!(PostgresStore);
impl_edit_store!(PostgresStore);
impl_history_store!(PostgresStore);
