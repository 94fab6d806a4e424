//! Agents: their owner-facing record, sealed secret and config, host-side tokens,
//! and used handshake signatures (heartbeat history: `rollups`).

use async_trait::async_trait;

use super::{Activity, AgentRow, HistoryEntry, NewAgent, SaveOutcome, StoreError, WrapOutcome};

/// The effective status, computed in SQL so filters and pages agree with what is shown.
pub(crate) const EFFECTIVE_STATUS: &str = "CASE WHEN last_seen IS NULL THEN 'pending' \
     WHEN last_seen + 3 * heartbeat_interval < $1 THEN 'offline' ELSE status END";

#[async_trait]
pub trait AgentStore {
    /// Creates the agent and records `activity`, in one transaction (so for the other
    /// changes below: the activity row is written exactly when the change commits).
    async fn create_agent(&self, agent: &NewAgent, activity: &Activity) -> Result<(), StoreError>;
    async fn get_agent(&self, owner: &str, id: &str) -> Result<Option<AgentRow>, StoreError>;
    /// Those of `ids` that are the owner's agents, in one statement (any order).
    async fn get_agents(&self, owner: &str, ids: &[String]) -> Result<Vec<AgentRow>, StoreError>;
    /// Host-side lookup, not owner-scoped: only the handshake and agent-token paths use it.
    async fn agent_by_id(&self, id: &str) -> Result<Option<AgentRow>, StoreError>;
    async fn delete_agent(
        &self,
        owner: &str,
        id: &str,
        activity: &Activity,
    ) -> Result<bool, StoreError>;
    /// `first`: only while none is stored, so a first wrap (which needs no password)
    /// cannot replace one stored concurrently.
    /// Stores a wrapped secret made under the master key whose check is `key_check`;
    /// with `first`, only while the agent has none. Takes the owner's row lock first, as
    /// a master-key change does, so a wrap and a key change never interleave.
    async fn set_wrapped_secret(
        &self,
        owner: &str,
        id: &str,
        wrapped: &str,
        first: bool,
        key_check: &str,
    ) -> Result<WrapOutcome, StoreError>;
    /// Stores a new config iff the stored version is `expected`, and records it in the
    /// agent's history (pruned to the newest `HISTORY_KEPT`) in the same transaction.
    async fn save_config(
        &self,
        owner: &str,
        id: &str,
        expected: i64,
        sealed: &str,
        history: &HistoryEntry,
        activity: &Activity,
    ) -> Result<SaveOutcome, StoreError>;
    /// Replaces the agent secret and revokes every token of the agent; only an HMAC
    /// agent's (false for an Ed25519 agent, which has no secret).
    async fn rotate_secret(
        &self,
        owner: &str,
        id: &str,
        sealed: &str,
        activity: &Activity,
    ) -> Result<bool, StoreError>;
    async fn mark_plaintext_secret(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Token renewal (a heartbeat with a token in its last third): stores `new_hash` for
    /// `agent_id` iff the presented token `old_hash` is still stored for that agent and
    /// unexpired at `now`, in one transaction that first takes the agent's row lock.
    /// [`Self::rotate_secret`] takes the same lock before it deletes the agent's tokens,
    /// so either the rotation commits first (the presented token is gone: no renewal) or
    /// the renewal does (the rotation's delete, a later statement, sees the new token).
    /// Returns whether the new token was stored.
    async fn renew_agent_token(
        &self,
        agent_id: &str,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// The agent id and expiry behind an unexpired token.
    async fn agent_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(String, i64)>, StoreError>;
    /// The sealed config and version of the agent behind an unexpired token.
    async fn agent_config_for_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(Option<String>, i64)>, StoreError>;
}

macro_rules! impl_agent_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AgentStore for $store {
            async fn create_agent(
                &self,
                a: &NewAgent,
                activity: &$crate::store::Activity,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO agents (id, owner_id, fleet_id, name, policy_profile, gateway_url, \
                     heartbeat_interval, secret_sealed, created_at, identity, name_fold) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&a.id)
                .bind(&a.owner_id)
                .bind(&a.fleet_id)
                .bind(&a.name)
                .bind(&a.policy_profile)
                .bind(&a.gateway_url)
                .bind(a.heartbeat_interval)
                .bind(&a.secret_sealed)
                .bind(a.created_at)
                .bind(a.identity)
                .bind(a.name.to_lowercase())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_insert)?;
                if let Some(e) = &a.enrollment {
                    sqlx::query(
                        "INSERT INTO enrollment_tokens (token_hash, agent_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&e.token_hash)
                    .bind(&a.id)
                    .bind(e.created_at)
                    .bind(e.expires_at)
                    .execute(&mut *tx)
                    .await?;
                }
                $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_agent(&self, owner: &str, id: &str) -> Result<Option<AgentRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM agents WHERE owner_id = $1 AND id = $2")
                    .bind(owner)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn get_agents(
                &self,
                owner: &str,
                ids: &[String],
            ) -> Result<Vec<AgentRow>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT * FROM agents WHERE owner_id = ");
                q.push_bind(owner).push(" AND id IN (");
                let mut list = q.separated(", ");
                for id in ids {
                    list.push_bind(id);
                }
                list.push_unseparated(")");
                Ok(q.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn agent_by_id(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM agents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn delete_agent(
                &self,
                owner: &str,
                id: &str,
                activity: &$crate::store::Activity,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                // Recorded first, while the agent's name can still be read; rolled back
                // with the rest when there was nothing to delete.
                $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                let done = sqlx::query("DELETE FROM agents WHERE owner_id = $1 AND id = $2")
                    .bind(owner)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                // Only the owner's own agent: another owner's call must not wipe the
                // replay record of an agent it does not own.
                if done != 1 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM used_signatures WHERE agent_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn set_wrapped_secret(
                &self,
                owner: &str,
                id: &str,
                wrapped: &str,
                first: bool,
                key_check: &str,
            ) -> Result<WrapOutcome, StoreError> {
                let mut tx = self.pool.begin().await?;
                let same_key = sqlx::query(
                    "UPDATE users SET key_check = key_check WHERE id = $1 AND key_check = $2",
                )
                .bind(owner)
                .bind(key_check)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if same_key != 1 {
                    return Ok(WrapOutcome::KeyChanged);
                }
                let done = sqlx::query(
                    "UPDATE agents SET wrapped_secret = $1 WHERE owner_id = $2 AND id = $3 \
                     AND ($4 = 0 OR wrapped_secret IS NULL)",
                )
                .bind(wrapped)
                .bind(owner)
                .bind(id)
                .bind(i64::from(first))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(if done == 1 { WrapOutcome::Stored } else { WrapOutcome::NotStored })
            }

            async fn save_config(
                &self,
                owner: &str,
                id: &str,
                expected: i64,
                sealed: &str,
                history: &HistoryEntry,
                activity: &$crate::store::Activity,
            ) -> Result<SaveOutcome, StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE agents SET config_sealed = $1, config_version = $2, config_saved_at = $3 \
                     WHERE owner_id = $4 AND id = $5 AND config_version = $6",
                )
                .bind(sealed)
                .bind(expected + 1)
                .bind(history.saved_at)
                .bind(owner)
                .bind(id)
                .bind(expected)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done == 1 {
                    sqlx::query(
                        "INSERT INTO config_history (agent_id, version, envelope_sealed, saved_at, saved_by) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(expected + 1)
                    .bind(&history.sealed)
                    .bind(history.saved_at)
                    .bind(&history.saved_by)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM config_history WHERE agent_id = $1 AND version <= $2")
                        .bind(id)
                        .bind(expected + 1 - $crate::store::HISTORY_KEPT)
                        .execute(&mut *tx)
                        .await?;
                    $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                    tx.commit().await?;
                    return Ok(SaveOutcome::Saved);
                }
                drop(tx);
                let stored: Option<i64> = sqlx::query_scalar(
                    "SELECT config_version FROM agents WHERE owner_id = $1 AND id = $2",
                )
                .bind(owner)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(match stored {
                    None => SaveOutcome::NotFound,
                    Some(stored_version) => SaveOutcome::Conflict { stored_version },
                })
            }

            async fn rotate_secret(
                &self,
                owner: &str,
                id: &str,
                sealed: &str,
                activity: &$crate::store::Activity,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE agents SET secret_sealed = $1, plaintext_secret_seen_at = NULL, \
                     secret_last_used_at = NULL WHERE owner_id = $2 AND id = $3 AND identity = $4",
                )
                .bind(sealed)
                .bind(owner)
                .bind(id)
                .bind($crate::store::IDENTITY_HMAC)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done != 1 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM agent_tokens WHERE agent_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn mark_plaintext_secret(&self, id: &str, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE agents SET plaintext_secret_seen_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn renew_agent_token(
                &self,
                agent_id: &str,
                old_hash: &str,
                new_hash: &str,
                now: i64,
                expires_at: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                // The agent's row lock, as `rotate_secret` and an identity switch take it
                // (a no-op write).
                let locked = sqlx::query("UPDATE agents SET identity = identity WHERE id = $1")
                    .bind(agent_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if locked != 1 {
                    return Ok(false);
                }
                // A new statement after the lock: it sees a rotation committed meanwhile.
                let stored = sqlx::query(
                    "INSERT INTO agent_tokens (token_hash, agent_id, expires_at) \
                     SELECT $1, agent_id, $2 FROM agent_tokens \
                     WHERE token_hash = $3 AND agent_id = $4 AND expires_at > $5",
                )
                .bind(new_hash)
                .bind(expires_at)
                .bind(old_hash)
                .bind(agent_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(stored == 1)
            }

            async fn agent_token(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<Option<(String, i64)>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT agent_id, expires_at FROM agent_tokens WHERE token_hash = $1 AND expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn agent_config_for_token(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<Option<(Option<String>, i64)>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT a.config_sealed, a.config_version FROM agent_tokens t \
                     JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = $1 AND t.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }
        }
    };
}
pub(crate) use impl_agent_store;
