//! Housekeeping: metadata (the at-rest key id), readiness, pruning of expired rows,
//! and the raw row dump the `audit` command inspects.

use async_trait::async_trait;

use super::StoreError;

/// One text cell of the database, for the audit.
#[derive(Debug, Clone)]
pub struct Cell {
    pub table: &'static str,
    pub column: &'static str,
    pub row: String,
    pub value: String,
}

/// Every text column the schema has, by table, with the column (or SQL expression) that
/// names the row: for sealed columns, the row their at-rest AAD names.
pub const TEXT_COLUMNS: &[(&str, &str, &[&str])] = &[
    ("meta", "key", &["key", "value"]),
    (
        "users",
        "id",
        &["id", "email", "password_hash", "kdf", "key_check"],
    ),
    (
        "sessions",
        "user_id",
        &["token_hash", "user_id", "id", "user_agent", "client_addr"],
    ),
    ("fleets", "id", &["id", "owner_id", "name"]),
    (
        "agents",
        "id",
        &[
            "id",
            "owner_id",
            "fleet_id",
            "name",
            "name_fold",
            "policy_profile",
            "gateway_url",
            "secret_sealed",
            "wrapped_secret",
            "config_sealed",
            "status",
            "metrics",
            "agent_version",
            "last_error",
            "machine_id",
            "location",
            "model",
            "config_delivery",
            "identity",
            "public_key",
        ],
    ),
    ("agent_tokens", "agent_id", &["token_hash", "agent_id"]),
    ("enrollment_tokens", "agent_id", &["token_hash", "agent_id"]),
    ("used_signatures", "agent_id", &["agent_id", "signature"]),
    ("metrics_keys", "agent_key", &["agent_id"]),
    ("agent_changes", "agent_id", &["agent_id"]),
    (
        "config_history",
        super::HISTORY_ROW_SQL,
        &["agent_id", "envelope_sealed", "saved_by"],
    ),
    (
        "alert_rules",
        "id",
        &[
            "id",
            "owner_id",
            "fleet_id",
            "name",
            "condition",
            "webhook_kind",
            "webhook_host",
            "url_sealed",
            "secret_sealed",
        ],
    ),
    (
        "alert_deliveries",
        "id",
        &[
            "owner_id",
            "rule_id",
            "rule_name",
            "agent_id",
            "agent_name",
            "event",
            "error",
        ],
    ),
    (
        "activity",
        "id",
        &[
            "owner_id",
            "action",
            "object_kind",
            "object_id",
            "object_name",
            "detail",
            "actor_kind",
            "actor_id",
            "client_addr",
        ],
    ),
];

#[async_trait]
pub trait MaintenanceStore {
    async fn ping(&self) -> Result<(), StoreError>;
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Stores `value` under `key` only if the key is absent; returns the value stored
    /// afterwards (ours, or the one another process wrote first).
    async fn claim_meta(&self, key: &str, value: &str) -> Result<String, StoreError>;
    /// Deletes expired sessions and tokens, signatures seen before `signatures_before`
    /// and activity entries last seen before `activity_before` (heartbeat history has its
    /// own retention: `access::rollups`). Returns the rows removed.
    async fn prune(
        &self,
        now: i64,
        signatures_before: i64,
        activity_before: i64,
    ) -> Result<u64, StoreError>;
    /// Every non-null text cell of every table (for `openclaw-fleet audit`).
    async fn text_cells(&self) -> Result<Vec<Cell>, StoreError>;
}

macro_rules! impl_maintenance_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::MaintenanceStore for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(value)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn claim_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(value)
                .execute(&self.pool)
                .await?;
                Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn prune(
                &self,
                now: i64,
                signatures_before: i64,
                activity_before: i64,
            ) -> Result<u64, StoreError> {
                let mut n = 0;
                for (sql, t) in [
                    ("DELETE FROM sessions WHERE expires_at <= $1", now),
                    ("DELETE FROM agent_tokens WHERE expires_at <= $1", now),
                    ("DELETE FROM enrollment_tokens WHERE expires_at <= $1", now),
                    (
                        "DELETE FROM used_signatures WHERE seen_at < $1",
                        signatures_before,
                    ),
                    ("DELETE FROM activity WHERE last_ts < $1", activity_before),
                ] {
                    n += sqlx::query(sql)
                        .bind(t)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                }
                Ok(n)
            }

            async fn text_cells(
                &self,
            ) -> Result<Vec<$crate::store::maintenance::Cell>, StoreError> {
                use sqlx::Row;
                let mut cells = Vec::new();
                for (table, key, columns) in $crate::store::maintenance::TEXT_COLUMNS {
                    let sql = format!(
                        "SELECT CAST({key} AS TEXT) AS k, {} FROM {table}",
                        columns
                            .iter()
                            .map(|c| format!("CAST({c} AS TEXT) AS {c}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    for row in sqlx::query(&sql).fetch_all(&self.pool).await? {
                        let k: String = row.try_get("k")?;
                        for column in columns.iter() {
                            let v: Option<String> = row.try_get(*column)?;
                            if let Some(value) = v {
                                cells.push($crate::store::maintenance::Cell {
                                    table,
                                    column,
                                    row: k.clone(),
                                    value,
                                });
                            }
                        }
                    }
                }
                Ok(cells)
            }
        }
    };
}
pub(crate) use impl_maintenance_store;
