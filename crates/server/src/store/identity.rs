//! Ed25519 agent identities (spec/SPEC-identity.md): what the handshake verifies
//! against, the switch to Ed25519 (which deletes the HMAC secret, the public key and
//! every token at once), single-use enrollment tokens kept as SHA-256, and enrollment.

use async_trait::async_trait;
use sqlx::FromRow;

use super::{Activity, StoreError};

/// `agents.identity` of an HMAC agent (SPEC §2, the default).
pub const IDENTITY_HMAC: &str = "hmac";
/// `agents.identity` of an Ed25519 agent.
pub const IDENTITY_ED25519: &str = "ed25519";

/// What a handshake is verified against, as its batch reads it (see `BatchStore`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AgentCredentials {
    pub identity: String,
    /// The sealed HMAC secret (HMAC agents only).
    pub secret_sealed: Option<String>,
    /// The enrolled `ocf_pk_…` key (enrolled Ed25519 agents only).
    pub public_key: Option<String>,
}

/// A new enrollment token, as stored.
#[derive(Debug, Clone)]
pub struct NewEnrollment {
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The agent behind a spent enrollment token.
#[derive(Debug, Clone, FromRow)]
pub struct Enrolled {
    pub id: String,
    pub owner_id: String,
    pub name: String,
}

#[async_trait]
pub trait IdentityStore {
    /// Makes the owner's agent an Ed25519 agent awaiting enrollment, in one transaction:
    /// its HMAC secret, public key and every agent token are deleted, every earlier
    /// enrollment token is replaced by `token`, and `activity` is written. False when the
    /// owner has no such agent.
    async fn issue_enrollment(
        &self,
        owner: &str,
        id: &str,
        token: &NewEnrollment,
        activity: &Activity,
    ) -> Result<bool, StoreError>;
    /// Spends the agent's unexpired token `token_hash` and stores `public_key`, in one
    /// transaction that also revokes the agent's tokens and writes `activity` (whose
    /// owner is filled in here). `None` (and nothing changed) when no such token is
    /// stored for that agent, unexpired at `now`.
    async fn enroll(
        &self,
        agent_id: &str,
        token_hash: &str,
        public_key: &str,
        now: i64,
        activity: &Activity,
    ) -> Result<Option<Enrolled>, StoreError>;
}

macro_rules! impl_identity_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::IdentityStore for $store {
            async fn issue_enrollment(
                &self,
                owner: &str,
                id: &str,
                token: &$crate::store::NewEnrollment,
                activity: &$crate::store::Activity,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                // Also the agent's row lock, which token renewal takes first (see
                // `AgentStore::renew_agent_token`), so no token outlives the switch.
                let done = sqlx::query(
                    "UPDATE agents SET identity = $1, secret_sealed = NULL, public_key = NULL, \
                     enrolled_at = NULL, plaintext_secret_seen_at = NULL, \
                     secret_last_used_at = NULL WHERE owner_id = $2 AND id = $3",
                )
                .bind($crate::store::IDENTITY_ED25519)
                .bind(owner)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done != 1 {
                    return Ok(false);
                }
                for sql in [
                    "DELETE FROM agent_tokens WHERE agent_id = $1",
                    "DELETE FROM enrollment_tokens WHERE agent_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "INSERT INTO enrollment_tokens (token_hash, agent_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&token.token_hash)
                .bind(id)
                .bind(token.created_at)
                .bind(token.expires_at)
                .execute(&mut *tx)
                .await?;
                $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn enroll(
                &self,
                agent_id: &str,
                token_hash: &str,
                public_key: &str,
                now: i64,
                activity: &$crate::store::Activity,
            ) -> Result<Option<$crate::store::Enrolled>, StoreError> {
                // A wrong token (what an attacker sends) costs one read, no write lock.
                let stored: Option<i64> = sqlx::query_scalar(
                    "SELECT expires_at FROM enrollment_tokens \
                     WHERE token_hash = $1 AND agent_id = $2 AND expires_at > $3",
                )
                .bind(token_hash)
                .bind(agent_id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                if stored.is_none() {
                    return Ok(None);
                }
                let mut tx = self.pool.begin().await?;
                // The agent's row lock first (as a switch and a renewal take it), then
                // the key, and only for an Ed25519 agent.
                let agent: Option<$crate::store::Enrolled> = sqlx::query_as(
                    "UPDATE agents SET public_key = $1, enrolled_at = $2, secret_sealed = NULL, \
                     plaintext_secret_seen_at = NULL, secret_last_used_at = NULL \
                     WHERE id = $3 AND identity = $4 RETURNING id, owner_id, name",
                )
                .bind(public_key)
                .bind(now)
                .bind(agent_id)
                .bind($crate::store::IDENTITY_ED25519)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(agent) = agent else {
                    return Ok(None);
                };
                let spent = sqlx::query(
                    "DELETE FROM enrollment_tokens \
                     WHERE token_hash = $1 AND agent_id = $2 AND expires_at > $3",
                )
                .bind(token_hash)
                .bind(agent_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if spent != 1 {
                    // Rolled back on drop: nothing spent, nothing stored.
                    return Ok(None);
                }
                for sql in [
                    "DELETE FROM agent_tokens WHERE agent_id = $1",
                    "DELETE FROM enrollment_tokens WHERE agent_id = $1",
                ] {
                    sqlx::query(sql).bind(agent_id).execute(&mut *tx).await?;
                }
                let mut activity = activity.clone();
                activity.owner_id = agent.owner_id.clone();
                activity.object_name = Some(agent.name.clone());
                $crate::store::activity::insert_activity!(&mut *tx, &activity).await?;
                tx.commit().await?;
                Ok(Some(agent))
            }
        }
    };
}
pub(crate) use impl_identity_store;
