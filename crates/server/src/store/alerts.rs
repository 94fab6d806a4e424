//! Alert rules and their delivery log. Rules are owner-scoped in SQL like every other
//! owner object; the evaluator loads every enabled rule at start and after a change (a
//! few rows per owner). The webhook URL and signing secret stay sealed here.

use async_trait::async_trait;
use sqlx::FromRow;

use super::{Activity, StoreError};

/// A rule as stored. `url_sealed` and `secret_sealed` are at-rest ciphertexts.
#[derive(Debug, Clone, FromRow)]
pub struct AlertRuleRow {
    pub id: String,
    pub owner_id: String,
    pub fleet_id: Option<String>,
    pub name: String,
    pub condition: String,
    pub threshold: Option<f64>,
    pub for_secs: i64,
    pub cooldown_secs: i64,
    pub enabled: i64,
    pub webhook_kind: String,
    pub webhook_host: String,
    pub url_sealed: String,
    pub secret_sealed: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One notice sent, or given up on after its last attempt.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub owner_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// `firing` or `resolved`.
    pub event: String,
    pub ts: i64,
    pub http_status: Option<i64>,
    /// A short, fixed description of what failed (never the URL).
    pub error: Option<String>,
    pub attempts: i64,
}

/// An agent as the evaluator first learns it at start.
#[derive(Debug, Clone, FromRow)]
pub struct AlertSeed {
    pub id: String,
    pub owner_id: String,
    pub fleet_id: Option<String>,
    pub last_seen: Option<i64>,
}

/// The rule columns, in the insert's order.
pub const RULE_COLUMNS_SQL: &str = "id, owner_id, fleet_id, name, condition, threshold, for_secs, \
     cooldown_secs, enabled, webhook_kind, webhook_host, url_sealed, secret_sealed, created_at, \
     updated_at";

#[async_trait]
pub trait AlertStore {
    async fn alert_rules(&self, owner: &str) -> Result<Vec<AlertRuleRow>, StoreError>;
    /// Every enabled rule of every owner (the evaluator's start).
    async fn enabled_alert_rules(&self) -> Result<Vec<AlertRuleRow>, StoreError>;
    async fn alert_rule(&self, owner: &str, id: &str) -> Result<Option<AlertRuleRow>, StoreError>;
    /// Inserts the rule and its activity entry in one transaction.
    async fn create_alert_rule(&self, r: &AlertRuleRow, a: &Activity) -> Result<(), StoreError>;
    /// Replaces the rule's editable fields (owner-scoped); false when not found.
    async fn update_alert_rule(&self, r: &AlertRuleRow, a: &Activity) -> Result<bool, StoreError>;
    async fn delete_alert_rule(
        &self,
        owner: &str,
        id: &str,
        a: &Activity,
    ) -> Result<bool, StoreError>;
    async fn insert_delivery(&self, d: &DeliveryRow) -> Result<(), StoreError>;
    /// The owner's deliveries with an id below `before`, newest first.
    async fn deliveries(
        &self,
        owner: &str,
        before: i64,
        rule_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError>;
    /// Deletes deliveries older than `before`.
    async fn prune_deliveries(&self, before: i64) -> Result<u64, StoreError>;
    /// Every agent (or one owner's), with what offline detection needs.
    async fn alert_seeds(&self, owner: Option<&str>) -> Result<Vec<AlertSeed>, StoreError>;
}

macro_rules! impl_alert_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AlertStore for $store {
            async fn alert_rules(
                &self,
                owner: &str,
            ) -> Result<Vec<$crate::store::AlertRuleRow>, StoreError> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM alert_rules WHERE owner_id = $1 ORDER BY created_at, id",
                    $crate::store::alerts::RULE_COLUMNS_SQL
                ))
                .bind(owner)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn enabled_alert_rules(
                &self,
            ) -> Result<Vec<$crate::store::AlertRuleRow>, StoreError> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM alert_rules WHERE enabled = 1",
                    $crate::store::alerts::RULE_COLUMNS_SQL
                ))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn alert_rule(
                &self,
                owner: &str,
                id: &str,
            ) -> Result<Option<$crate::store::AlertRuleRow>, StoreError> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {} FROM alert_rules WHERE owner_id = $1 AND id = $2",
                    $crate::store::alerts::RULE_COLUMNS_SQL
                ))
                .bind(owner)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn create_alert_rule(
                &self,
                r: &$crate::store::AlertRuleRow,
                a: &$crate::store::Activity,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO alert_rules ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15)",
                    $crate::store::alerts::RULE_COLUMNS_SQL
                ))
                .bind(&r.id)
                .bind(&r.owner_id)
                .bind(&r.fleet_id)
                .bind(&r.name)
                .bind(&r.condition)
                .bind(r.threshold)
                .bind(r.for_secs)
                .bind(r.cooldown_secs)
                .bind(r.enabled)
                .bind(&r.webhook_kind)
                .bind(&r.webhook_host)
                .bind(&r.url_sealed)
                .bind(&r.secret_sealed)
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_insert)?;
                $crate::store::activity::insert_activity!(&mut *tx, a).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_alert_rule(
                &self,
                r: &$crate::store::AlertRuleRow,
                a: &$crate::store::Activity,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query(
                    "UPDATE alert_rules SET fleet_id = $3, name = $4, threshold = $5, \
                     for_secs = $6, cooldown_secs = $7, enabled = $8, webhook_kind = $9, \
                     webhook_host = $10, url_sealed = $11, updated_at = $12 \
                     WHERE owner_id = $1 AND id = $2",
                )
                .bind(&r.owner_id)
                .bind(&r.id)
                .bind(&r.fleet_id)
                .bind(&r.name)
                .bind(r.threshold)
                .bind(r.for_secs)
                .bind(r.cooldown_secs)
                .bind(r.enabled)
                .bind(&r.webhook_kind)
                .bind(&r.webhook_host)
                .bind(&r.url_sealed)
                .bind(r.updated_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Ok(false);
                }
                $crate::store::activity::insert_activity!(&mut *tx, a).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_alert_rule(
                &self,
                owner: &str,
                id: &str,
                a: &$crate::store::Activity,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("DELETE FROM alert_rules WHERE owner_id = $1 AND id = $2")
                    .bind(owner)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Ok(false);
                }
                $crate::store::activity::insert_activity!(&mut *tx, a).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_delivery(
                &self,
                d: &$crate::store::DeliveryRow,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO alert_deliveries (owner_id, rule_id, rule_name, agent_id, \
                     agent_name, event, ts, http_status, error, attempts) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&d.owner_id)
                .bind(&d.rule_id)
                .bind(&d.rule_name)
                .bind(&d.agent_id)
                .bind(&d.agent_name)
                .bind(&d.event)
                .bind(d.ts)
                .bind(d.http_status)
                .bind(&d.error)
                .bind(d.attempts)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn deliveries(
                &self,
                owner: &str,
                before: i64,
                rule_id: Option<&str>,
                limit: i64,
            ) -> Result<Vec<$crate::store::DeliveryRow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, owner_id, rule_id, rule_name, agent_id, agent_name, event, ts, \
                     http_status, error, attempts FROM alert_deliveries \
                     WHERE owner_id = $1 AND id < $2 AND ($3 IS NULL OR rule_id = $3) \
                     ORDER BY id DESC LIMIT $4",
                )
                .bind(owner)
                .bind(before)
                .bind(rule_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn prune_deliveries(&self, before: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM alert_deliveries WHERE ts < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn alert_seeds(
                &self,
                owner: Option<&str>,
            ) -> Result<Vec<$crate::store::AlertSeed>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, owner_id, fleet_id, last_seen FROM agents \
                     WHERE ($1 IS NULL OR owner_id = $1)",
                )
                .bind(owner)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}
pub(crate) use impl_alert_store;
