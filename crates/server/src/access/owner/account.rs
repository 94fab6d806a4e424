//! The owner's own account: sessions (listed with where they came from and when they
//! were last used; ended one by one) and the password (the current one is required; a
//! change ends every other session). Neither touches the master key or any config:
//! those are encrypted under the master key, which the server never had.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Action, Owner};
use crate::auth::password;
use crate::error::{ApiError, ApiResult};

/// A session of the caller's account. The token itself is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// Updated at most once a minute.
    pub last_used_at: Option<i64>,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
    /// The session this request was made with.
    pub current: bool,
}

impl Owner {
    pub async fn sessions(&self) -> ApiResult<Vec<SessionView>> {
        let rows = self
            .state
            .0
            .store
            .sessions_of(self.id(), self.state.now())
            .await?;
        Ok(rows
            .into_iter()
            .map(|s| SessionView {
                current: s.id == self.session_id,
                id: s.id,
                created_at: s.created_at,
                expires_at: s.expires_at,
                last_used_at: s.last_used_at,
                user_agent: s.user_agent,
                client_addr: s.client_addr,
            })
            .collect())
    }

    /// Ends one of the caller's sessions; another account's session is not found.
    pub async fn end_session(&self, session_id: &str) -> ApiResult<()> {
        let valid = !session_id.is_empty()
            && session_id.len() <= 64
            && session_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !valid {
            return Err(ApiError::NotFound);
        }
        let mut entry = self.entry(Action::SessionEnded);
        entry.object_id = Some(session_id.into());
        let ended = self
            .state
            .0
            .store
            .end_session(self.id(), session_id, &entry)
            .await?;
        if ended {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Changes the password; returns how many other sessions were ended. The current
    /// password is checked like every protected change (counted per account first), so a
    /// stolen session cannot guess it.
    pub async fn change_password(&self, current: &str, new: &str) -> ApiResult<u64> {
        if let Some(msg) = password::check_policy(new) {
            return Err(ApiError::invalid(format!("new_password: {msg}")));
        }
        self.require_password(Some(current)).await?;
        let hash = password::hash(new).await?;
        let ended = self
            .state
            .0
            .store
            .set_password(
                self.id(),
                &hash,
                Some(&self.token_hash),
                &self.entry(Action::PasswordChanged),
            )
            .await?;
        tracing::info!(user_id = %self.user.id, ended, "password changed");
        Ok(ended)
    }
}
