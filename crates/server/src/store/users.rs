//! Accounts, owner sessions and the per-user master-key parameters (SPEC §5, §7).

use async_trait::async_trait;

use super::{Activity, MasterKeyOutcome, NewSession, SessionUser, StoreError, UserRow};

#[async_trait]
pub trait UserStore {
    async fn count_users(&self) -> Result<i64, StoreError>;
    async fn create_user(&self, user: &UserRow) -> Result<(), StoreError>;
    /// Creates the first account. The claim is a `meta` row whose primary key admits
    /// one writer, so concurrent first registrations (on any replica) create one
    /// account; `false` when the claim was taken or an account already exists.
    async fn create_first_user(&self, user: &UserRow) -> Result<bool, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError>;
    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError>;
    /// Opens a session and records the sign-in, in one transaction.
    async fn create_session(
        &self,
        session: &NewSession<'_>,
        activity: &Activity,
    ) -> Result<(), StoreError>;
    /// The enabled user behind an unexpired session.
    async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionUser>, StoreError>;
    /// Ends the session behind a token; records `activity` when there was one.
    async fn delete_session(&self, token_hash: &str, activity: &Activity)
        -> Result<(), StoreError>;
    /// Sets the master-key parameters; with `rewrapped`, also replaces every wrapped
    /// secret, all in one transaction, refusing unless `rewrapped` names exactly the
    /// owner's agents that hold a wrapped secret. `first` (a set-up) applies only while
    /// no key is stored, so a set-up cannot replace a key set concurrently.
    async fn set_master_key(
        &self,
        user_id: &str,
        kdf: &str,
        key_check: &str,
        rewrapped: Option<&[(String, String)]>,
        first: bool,
        activity: &Activity,
    ) -> Result<MasterKeyOutcome, StoreError>;
}

macro_rules! impl_user_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            async fn count_users(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn create_user(&self, u: &UserRow) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&u.id)
                .bind(&u.email)
                .bind(&u.password_hash)
                .bind(u.created_at)
                .execute(&self.pool)
                .await
                .map_err(StoreError::from_insert)?;
                Ok(())
            }

            async fn create_first_user(&self, u: &UserRow) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let claimed = sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ('first_user', $1) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(&u.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&mut *tx)
                    .await?;
                if claimed != 1 || existing > 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&u.id)
                .bind(&u.email)
                .bind(&u.password_hash)
                .bind(u.created_at)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_insert)?;
                tx.commit().await?;
                Ok(true)
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn create_session(
                &self,
                s: &NewSession<'_>,
                activity: &$crate::store::Activity,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, id, user_id, created_at, expires_at, \
                     last_used_at, user_agent, client_addr) VALUES ($1, $2, $3, $4, $5, $4, $6, $7)",
                )
                .bind(s.token_hash)
                .bind(s.id)
                .bind(s.user_id)
                .bind(s.now)
                .bind(s.expires_at)
                .bind(s.user_agent)
                .bind(s.client_addr)
                .execute(&mut *tx)
                .await?;
                $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session_user(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<Option<SessionUser>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT u.*, s.id AS session_id, s.last_used_at AS session_last_used_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn delete_session(
                &self,
                token_hash: &str,
                activity: &$crate::store::Activity,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                    tx.commit().await?;
                }
                Ok(())
            }

            async fn set_master_key(
                &self,
                user_id: &str,
                kdf: &str,
                key_check: &str,
                rewrapped: Option<&[(String, String)]>,
                first: bool,
                activity: &$crate::store::Activity,
            ) -> Result<MasterKeyOutcome, StoreError> {
                let mut tx = self.pool.begin().await?;
                // Taking the user's row lock first orders a change after a concurrent
                // set-up, and lets a set-up see that it lost.
                let updated = sqlx::query(
                    "UPDATE users SET kdf = $1, key_check = $2 WHERE id = $3 \
                     AND ($4 = 0 OR kdf IS NULL)",
                )
                .bind(kdf)
                .bind(key_check)
                .bind(user_id)
                .bind(i64::from(first))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated != 1 {
                    return Ok(MasterKeyOutcome::AlreadySet);
                }
                if let Some(items) = rewrapped {
                    let mut held: Vec<String> = sqlx::query_scalar(
                        "SELECT id FROM agents WHERE owner_id = $1 AND wrapped_secret IS NOT NULL",
                    )
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut given: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
                    held.sort();
                    given.sort();
                    if held != given {
                        return Ok(MasterKeyOutcome::SetMismatch);
                    }
                    // Row locks in ascending id order, as the group-commit batch takes them.
                    let mut items: Vec<_> = items.iter().collect();
                    items.sort_by(|a, b| a.0.cmp(&b.0));
                    for (agent_id, wrapped) in items {
                        sqlx::query(
                            "UPDATE agents SET wrapped_secret = $1 WHERE id = $2 AND owner_id = $3",
                        )
                        .bind(wrapped)
                        .bind(agent_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                $crate::store::activity::insert_activity!(&mut *tx, activity).await?;
                tx.commit().await?;
                Ok(MasterKeyOutcome::Saved)
            }
        }
    };
}
pub(crate) use impl_user_store;
