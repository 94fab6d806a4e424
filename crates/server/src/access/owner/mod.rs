//! The owner scope: a logged-in user and everything they own. Every store call here
//! passes the caller's id, so another owner's fleet or agent answers 404.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use openclaw_fleet_protocol::{
    AgentId, AgentSecret, Envelope, GatewayUrl, Kdf, Name, PolicyProfile, ProtocolError, Sealed,
    DEFAULT_POLICY,
};
use serde_json::Value;

pub(crate) mod account;
mod activity_log;
mod agent_list;
mod agents;
mod alert_rules;
mod edits;
mod fleets;
mod history;
mod identity;
mod metrics;

pub use activity_log::{ActivityPage, ActivityView};
pub use agent_list::ListRequest;
pub use alert_rules::{
    AlertRuleInput, AlertRuleView, CreatedAlertRule, DeliveryPage, DeliveryView, WebhookInput,
    WebhookView,
};
pub use edits::AgentEdit;

use super::activity::{Action, Actor};
use super::*;
use crate::auth::{csrf, password, SESSION_COOKIE};
use crate::client_addr::ClientAddr;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::{
    history_row, FleetRow, HistoryEntry, MasterKeyOutcome, NewAgent, SaveOutcome, UserRow,
    WrapOutcome, IDENTITY_ED25519, IDENTITY_HMAC,
};

/// Configs larger than this are refused (SPEC §4 envelope, base64url-encoded).
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// A request made by a logged-in owner.
pub struct Owner {
    state: AppState,
    user: UserRow,
    token_hash: String,
    session_id: String,
    /// Where the request came from (for the activity log).
    client_addr: Option<String>,
}

/// A session's last use is written at most this often (seconds).
const LAST_USE_RESOLUTION: i64 = 60;

/// Reads the session token from the bearer header, else the cookie. Says which.
fn session_token(parts: &Parts) -> Option<(String, bool)> {
    if let Some(v) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v
            .strip_prefix("Bearer ")
            .map(|t| (t.trim().to_string(), false));
    }
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| (v.to_string(), true))
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let (token, from_cookie) = session_token(parts).ok_or(ApiError::Unauthorized)?;
        if !token.starts_with(tokens::SESSION_PREFIX) {
            return Err(ApiError::Unauthorized);
        }
        if from_cookie
            && csrf::is_write(&parts.method)
            && !csrf::origin_allowed(&parts.headers, state.settings().public_url.as_deref())
        {
            return Err(ApiError::Csrf);
        }
        let token_hash = tokens::hash(&token);
        let now = state.now();
        let session = state
            .0
            .store
            .session_user(&token_hash, now)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if session
            .session_last_used_at
            .is_none_or(|t| now - t >= LAST_USE_RESOLUTION)
        {
            state.0.store.touch_session(&token_hash, now).await?;
        }
        let client_addr = ClientAddr::from_request_parts(parts, state)
            .await
            .ok()
            .map(|ClientAddr(ip)| ip.to_string());
        Ok(Owner {
            state: state.clone(),
            user: session.user,
            token_hash,
            session_id: session.session_id,
            client_addr,
        })
    }
}

fn parse_agent_id(id: &str) -> ApiResult<AgentId> {
    AgentId::parse(id).map_err(|_| ApiError::NotFound)
}

/// Fleet ids are UUIDs like agent ids; anything else names no fleet (and never reaches
/// the database, some of which refuse text such as NUL outright).
fn parse_fleet_id(id: &str) -> ApiResult<String> {
    parse_agent_id(id).map(|i| i.to_string())
}

impl Owner {
    /// The owner scope of an account, for the operator CLI (no session involved).
    pub async fn for_operator(state: &AppState, email: &str) -> ApiResult<Self> {
        let email = email.trim().to_lowercase();
        let user = state
            .0
            .store
            .user_by_email(&email)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Owner {
            state: state.clone(),
            user,
            token_hash: String::new(),
            session_id: String::new(),
            client_addr: None,
        })
    }

    pub fn user(&self) -> UserView {
        (&self.user).into()
    }

    fn id(&self) -> &str {
        &self.user.id
    }

    pub async fn logout(&self) -> ApiResult<()> {
        let mut entry = self.entry(Action::SignOut);
        entry.object_id = Some(self.session_id.clone());
        Ok(self
            .state
            .0
            .store
            .delete_session(&self.token_hash, &entry)
            .await?)
    }

    /// An activity entry for an action of this request: by this session (or the
    /// operator), from this request's address.
    fn entry(&self, action: Action) -> crate::store::Activity {
        let operator = self.token_hash.is_empty();
        let actor = if operator {
            Actor::Operator
        } else {
            Actor::Session
        };
        let mut e = super::activity::entry(self.id(), self.state.now(), action, actor);
        e.actor_id = (!operator).then(|| self.session_id.clone());
        e.client_addr = self.client_addr.clone();
        e
    }

    /// An activity entry about one of the owner's agents.
    fn agent_entry(&self, action: Action, agent_id: &str) -> crate::store::Activity {
        let mut e = self.entry(action);
        e.object_id = Some(agent_id.into());
        e
    }

    /// Whether the session behind this scope still exists and has not expired: answers
    /// that outlive their request (the event stream) re-check it.
    pub async fn session_alive(&self) -> ApiResult<bool> {
        let now = self.state.now();
        let user = self
            .state
            .0
            .store
            .session_user(&self.token_hash, now)
            .await?;
        Ok(user.is_some_and(|s| s.user.id == self.user.id))
    }

    /// Checks the account password for changes a stolen session alone must not make.
    /// Checks count per account before they run: past the limit even the right password
    /// waits for the window to end, so a session holder cannot guess it.
    async fn require_password(&self, given: Option<&str>) -> ApiResult<()> {
        let given = given.ok_or(ApiError::PasswordRequired)?;
        let limits = &self.state.0.limits;
        limits
            .begin_password_check(self.id())
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        if password::verify(given, Some(&self.user.password_hash)).await? {
            limits.password_check_succeeded(self.id());
            Ok(())
        } else {
            tracing::info!(user_id = %self.id(), "wrong account password for a protected change");
            Err(ApiError::WrongPassword)
        }
    }

    pub fn master_key(&self) -> MasterKeyView {
        let parse = |s: &Option<String>| s.as_deref().and_then(|t| serde_json::from_str(t).ok());
        MasterKeyView {
            kdf: parse(&self.user.kdf),
            key_check: parse(&self.user.key_check),
        }
    }

    /// First set-up, or a change that re-wraps every wrapped secret (SPEC §5, §7).
    pub async fn set_master_key(
        &self,
        kdf: &Value,
        key_check: &Value,
        wrapped: Option<&[(String, Value)]>,
        password: Option<&str>,
    ) -> ApiResult<MasterKeyView> {
        let kdf = Kdf::parse(kdf).map_err(|e| match e {
            ProtocolError::WeakKdf { .. } => ApiError::WeakKdf(e.to_string()),
            other => ApiError::invalid(format!("kdf: {other}")),
        })?;
        kdf.check_policy()
            .map_err(|e| ApiError::WeakKdf(e.to_string()))?;
        let key_check =
            Sealed::parse(key_check).map_err(|e| ApiError::invalid(format!("key_check: {e}")))?;
        let existing = self.user.kdf.is_some();
        if existing {
            self.require_password(password).await?;
        }
        let rewrapped = match (existing, wrapped) {
            (_, Some(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (agent_id, w) in items {
                    let id = AgentId::parse(agent_id).map_err(|_| {
                        ApiError::invalid("wrapped_secrets: agent_id must be a UUID")
                    })?;
                    let w = Sealed::parse(w)
                        .map_err(|e| ApiError::invalid(format!("wrapped_secrets: {e}")))?;
                    out.push((id.to_string(), w.to_json().to_string()));
                }
                Some(out)
            }
            (true, None) => Some(Vec::new()),
            (false, None) => None,
        };
        let kdf_text = kdf.to_json().to_string();
        let check_text = key_check.to_json().to_string();
        let mut entry = self.entry(if existing {
            Action::MasterKeyChanged
        } else {
            Action::MasterKeySet
        });
        if let Some(items) = &rewrapped {
            entry.detail = Some(serde_json::json!({ "rewrapped": items.len() }).to_string());
        }
        match self
            .state
            .0
            .store
            .set_master_key(
                self.id(),
                &kdf_text,
                &check_text,
                rewrapped.as_deref(),
                !existing,
                &entry,
            )
            .await?
        {
            MasterKeyOutcome::Saved => Ok(MasterKeyView {
                kdf: Some(kdf.to_json()),
                key_check: Some(key_check.to_json()),
            }),
            MasterKeyOutcome::SetMismatch => Err(ApiError::Conflict(
                "wrapped_secrets must re-wrap exactly the agents that hold a wrapped secret".into(),
            )),
            // Set up meanwhile by another request: this one is now a change.
            MasterKeyOutcome::AlreadySet => Err(ApiError::PasswordRequired),
        }
    }
}
