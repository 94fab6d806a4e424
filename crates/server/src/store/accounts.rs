//! Account hygiene: the owner's own sessions (listed and ended by their public id,
//! never the token hash), password changes that end the other sessions in the same
//! transaction, and the operator's view of accounts (list, reset, disable).

use async_trait::async_trait;
use sqlx::FromRow;

use super::{Activity, StoreError};

/// A session as its owner may see it.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
}

/// An account as the operator's `user list` shows it.
#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    pub sessions: i64,
    pub agents: i64,
}

#[async_trait]
pub trait AccountStore {
    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError>;
    /// The user's unexpired sessions, newest first.
    async fn sessions_of(&self, user_id: &str, now: i64) -> Result<Vec<SessionRow>, StoreError>;
    /// Ends one of the user's sessions and records `activity`; `false` when the user has
    /// none with that id.
    async fn end_session(
        &self,
        user_id: &str,
        session_id: &str,
        activity: &Activity,
    ) -> Result<bool, StoreError>;
    /// Replaces the password hash and ends every session of the user but `keep` (a token
    /// hash), and records `activity` (its detail gets the count), in one transaction.
    /// Returns the sessions ended.
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        activity: &Activity,
    ) -> Result<u64, StoreError>;
    /// Disables (ending every session, in the same transaction) or enables an account.
    async fn set_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
    ) -> Result<u64, StoreError>;
    async fn accounts(&self, now: i64) -> Result<Vec<AccountRow>, StoreError>;
}

macro_rules! impl_account_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AccountStore for $store {
            async fn touch_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2")
                    .bind(now)
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn sessions_of(
                &self,
                user_id: &str,
                now: i64,
            ) -> Result<Vec<$crate::store::SessionRow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, created_at, expires_at, last_used_at, user_agent, client_addr \
                     FROM sessions WHERE user_id = $1 AND expires_at > $2 \
                     ORDER BY created_at DESC, id",
                )
                .bind(user_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn end_session(
                &self,
                user_id: &str,
                session_id: &str,
                activity: &$crate::store::Activity,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                    .bind(session_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n != 1 {
                    return Ok(false);
                }
                $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn set_password(
                &self,
                user_id: &str,
                password_hash: &str,
                keep: Option<&str>,
                activity: &$crate::store::Activity,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                let ended = sqlx::query(
                    "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2",
                )
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let mut activity = activity.clone();
                activity.detail = Some(serde_json::json!({ "sessions_ended": ended }).to_string());
                $crate::store::activity::insert_activity!(&mut *tx, &activity).await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn set_disabled(
                &self,
                user_id: &str,
                disabled_at: Option<i64>,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
                    .bind(disabled_at)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                let mut ended = 0;
                if disabled_at.is_some() {
                    ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(ended)
            }

            async fn accounts(&self, now: i64) -> Result<Vec<$crate::store::AccountRow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT u.id, u.email, u.created_at, u.disabled_at, \
                     (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $1) AS sessions, \
                     (SELECT COUNT(*) FROM agents a WHERE a.owner_id = u.id) AS agents \
                     FROM users u ORDER BY u.created_at, u.email",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}
pub(crate) use impl_account_store;
