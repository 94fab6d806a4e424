//! Edits of an owner's agents and fleets after creation: rename, move between fleets,
//! change policy profile or gateway URL. Each is one owner-scoped statement, so an
//! agent can only be moved into a fleet of the same owner.

use async_trait::async_trait;

use super::{Activity, StoreError};

/// What to change on an agent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    /// `Some(None)` takes the agent out of any fleet.
    pub fleet_id: Option<Option<String>>,
    /// The profile and its heartbeat interval, changed together.
    pub policy: Option<(String, i64)>,
    /// `Some(None)` clears it (the agent's default gateway).
    pub gateway_url: Option<Option<String>>,
}

/// Result of an agent update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    NotFound,
    /// The target fleet is not one of the owner's (or was deleted meanwhile).
    FleetNotFound,
}

#[async_trait]
pub trait EditStore {
    /// Applies the update and records `activity` in one transaction.
    async fn update_agent(
        &self,
        owner: &str,
        id: &str,
        update: &AgentUpdate,
        activity: &Activity,
    ) -> Result<UpdateOutcome, StoreError>;
    /// `Ok(false)` when the owner has no such fleet; `Conflict` when the name is taken.
    async fn rename_fleet(&self, owner: &str, id: &str, name: &str) -> Result<bool, StoreError>;
}

/// A foreign key violation: the fleet was deleted between the check and the update.
pub(crate) fn fleet_gone(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

macro_rules! impl_edit_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::EditStore for $store {
            async fn update_agent(
                &self,
                owner: &str,
                id: &str,
                u: &$crate::store::AgentUpdate,
                activity: &$crate::store::Activity,
            ) -> Result<$crate::store::UpdateOutcome, StoreError> {
                use $crate::store::UpdateOutcome;
                let mut tx = self.pool.begin().await?;
                let flag = |set: bool| i64::from(set);
                let (profile, interval) = u.policy.clone().unzip();
                let done = sqlx::query(
                    "UPDATE agents SET \
                     name = CASE WHEN $1 = 1 THEN $2 ELSE name END, \
                     name_fold = CASE WHEN $1 = 1 THEN $12 ELSE name_fold END, \
                     fleet_id = CASE WHEN $3 = 1 THEN $4 ELSE fleet_id END, \
                     policy_profile = CASE WHEN $5 = 1 THEN $6 ELSE policy_profile END, \
                     heartbeat_interval = CASE WHEN $5 = 1 THEN $7 ELSE heartbeat_interval END, \
                     gateway_url = CASE WHEN $8 = 1 THEN $9 ELSE gateway_url END \
                     WHERE owner_id = $10 AND id = $11 AND ($3 = 0 OR $4 IS NULL OR EXISTS \
                     (SELECT 1 FROM fleets f WHERE f.id = $4 AND f.owner_id = $10))",
                )
                .bind(flag(u.name.is_some()))
                .bind(&u.name)
                .bind(flag(u.fleet_id.is_some()))
                .bind(u.fleet_id.clone().flatten())
                .bind(flag(u.policy.is_some()))
                .bind(profile)
                .bind(interval)
                .bind(flag(u.gateway_url.is_some()))
                .bind(u.gateway_url.clone().flatten())
                .bind(owner)
                .bind(id)
                .bind(u.name.as_ref().map(|n| n.to_lowercase()))
                .execute(&mut *tx)
                .await;
                let done = match done {
                    Ok(r) => r.rows_affected(),
                    Err(e) if $crate::store::edits::fleet_gone(&e) => {
                        return Ok(UpdateOutcome::FleetNotFound)
                    }
                    Err(e) => return Err(e.into()),
                };
                if done == 1 {
                    $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                    tx.commit().await?;
                    return Ok(UpdateOutcome::Updated);
                }
                drop(tx);
                let exists: Option<String> =
                    sqlx::query_scalar("SELECT id FROM agents WHERE owner_id = $1 AND id = $2")
                        .bind(owner)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(if exists.is_some() {
                    UpdateOutcome::FleetNotFound
                } else {
                    UpdateOutcome::NotFound
                })
            }

            async fn rename_fleet(
                &self,
                owner: &str,
                id: &str,
                name: &str,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE fleets SET name = $1 WHERE owner_id = $2 AND id = $3")
                    .bind(name)
                    .bind(owner)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_insert)?
                    .rows_affected();
                Ok(done == 1)
            }
        }
    };
}
pub(crate) use impl_edit_store;
