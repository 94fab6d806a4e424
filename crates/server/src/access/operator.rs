//! The operator scope: what `openclaw-fleet user …` may do to any account, from the
//! server's own machine (it holds the database already). Resetting a password or
//! disabling an account ends that account's sessions; neither touches its agents, its
//! master key or its configs (encrypted under a key the server never had).

use serde::Serialize;

use super::AppState;
use crate::auth::password;
use crate::error::{ApiError, ApiResult};
use crate::store::UserRow;

pub struct Operator(AppState);

/// An account as `user list` prints it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    pub disabled: bool,
    pub disabled_at: Option<i64>,
    pub active_sessions: i64,
    pub agents: i64,
}

impl AppState {
    pub fn operator(&self) -> Operator {
        Operator(self.clone())
    }
}

impl Operator {
    pub async fn accounts(&self) -> ApiResult<Vec<AccountView>> {
        let rows = self.0 .0.store.accounts(self.0.now()).await?;
        Ok(rows
            .into_iter()
            .map(|a| AccountView {
                id: a.id,
                email: a.email,
                created_at: a.created_at,
                disabled: a.disabled_at.is_some(),
                disabled_at: a.disabled_at,
                active_sessions: a.sessions,
                agents: a.agents,
            })
            .collect())
    }

    async fn account(&self, email: &str) -> ApiResult<UserRow> {
        let email = email.trim().to_lowercase();
        self.0
             .0
            .store
            .user_by_email(&email)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Sets a new password and ends every session of the account; returns how many.
    pub async fn reset_password(&self, email: &str, new: &str) -> ApiResult<u64> {
        if let Some(msg) = password::check_policy(new) {
            return Err(ApiError::invalid(msg));
        }
        let user = self.account(email).await?;
        let hash = password::hash(new).await?;
        let e = super::activity::entry(
            &user.id,
            self.0.now(),
            super::Action::PasswordReset,
            super::Actor::Operator,
        );
        let ended = self
            .0
             .0
            .store
            .set_password(&user.id, &hash, None, &e)
            .await?;
        tracing::info!(user_id = %user.id, ended, "password reset by the operator");
        Ok(ended)
    }

    /// Disables (ending every session) or enables an account; returns sessions ended.
    pub async fn set_disabled(&self, email: &str, disabled: bool) -> ApiResult<u64> {
        let user = self.account(email).await?;
        let at = disabled.then(|| user.disabled_at.unwrap_or(self.0.now()));
        let ended = self.0 .0.store.set_disabled(&user.id, at).await?;
        tracing::info!(user_id = %user.id, disabled, ended, "account changed by the operator");
        Ok(ended)
    }
}
