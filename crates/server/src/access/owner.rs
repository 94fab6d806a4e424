//! The owner scope: a logged-in user and everything they own. Every store call here
//! passes the caller's id, so another owner's fleet or agent answers 404.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use openclaw_fleet_protocol::{policy, AgentId, AgentSecret, Envelope, Kdf, ProtocolError, Sealed};
use serde_json::Value;

use super::*;
use crate::auth::{csrf, password, SESSION_COOKIE};
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::{
    AgentFilter, FleetRow, MasterKeyOutcome, NewAgent, SaveOutcome, UserRow, WrapOutcome,
};

/// Configs larger than this are refused (SPEC §4 envelope, base64url-encoded).
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// A request made by a logged-in owner.
pub struct Owner {
    state: AppState,
    user: UserRow,
    token_hash: String,
}

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
        let user = state
            .0
            .store
            .session_user(&token_hash, state.now())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Owner {
            state: state.clone(),
            user,
            token_hash,
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

/// Names are shown in the dashboard and logs: 1 to 100 characters, no control ones.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control)
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
        })
    }

    pub fn user(&self) -> UserView {
        (&self.user).into()
    }

    fn id(&self) -> &str {
        &self.user.id
    }

    pub async fn logout(&self) -> ApiResult<()> {
        Ok(self.state.0.store.delete_session(&self.token_hash).await?)
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
        Ok(user.is_some_and(|u| u.id == self.user.id))
    }

    /// Checks the account password for changes a stolen session alone must not make.
    fn require_password(&self, given: Option<&str>) -> ApiResult<()> {
        let given = given.ok_or(ApiError::PasswordRequired)?;
        if password::verify(given, Some(&self.user.password_hash)) {
            Ok(())
        } else {
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
            self.require_password(password)?;
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

    pub async fn fleets(&self) -> ApiResult<Vec<FleetView>> {
        let rows = self.state.0.store.list_fleets(self.id()).await?;
        Ok(rows.into_iter().map(FleetView::from).collect())
    }

    /// A fleet by id or, failing that, by name.
    pub async fn fleet_by_id_or_name(&self, key: &str) -> ApiResult<Option<FleetView>> {
        let fleets = self.fleets().await?;
        let by_id = fleets.iter().position(|f| f.id == key);
        let found = by_id.or_else(|| fleets.iter().position(|f| f.name == key));
        Ok(found.and_then(|i| fleets.into_iter().nth(i)))
    }

    pub async fn fleet(&self, id: &str) -> ApiResult<FleetView> {
        let id = &parse_fleet_id(id)?;
        let row = self.state.0.store.get_fleet(self.id(), id).await?;
        row.map(FleetView::from).ok_or(ApiError::NotFound)
    }

    pub async fn create_fleet(&self, name: &str) -> ApiResult<FleetView> {
        let name = name.trim();
        if !valid_name(name) {
            return Err(ApiError::invalid(
                "name must be 1 to 100 characters, without control characters",
            ));
        }
        let row = FleetRow {
            id: AgentId::new_v4().to_string(),
            owner_id: self.id().into(),
            name: name.into(),
            created_at: self.state.now(),
            agent_count: 0,
        };
        self.state
            .0
            .store
            .create_fleet(&row)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict => {
                    ApiError::Conflict(format!("a fleet named {name:?} already exists"))
                }
                other => other.into(),
            })?;
        Ok(row.into())
    }

    pub async fn delete_fleet(&self, id: &str) -> ApiResult<()> {
        let id = &parse_fleet_id(id)?;
        match self.state.0.store.delete_fleet(self.id(), id).await? {
            None => Err(ApiError::NotFound),
            Some(false) => Err(ApiError::Conflict("the fleet still holds agents".into())),
            Some(true) => Ok(()),
        }
    }

    pub async fn agents(
        &self,
        fleet_id: Option<String>,
        status: Option<String>,
        page: i64,
        limit: i64,
    ) -> ApiResult<AgentPage> {
        let now = self.state.now();
        let filter = AgentFilter {
            fleet_id,
            status,
            now,
            limit,
            offset: (page - 1).saturating_mul(limit),
        };
        let (rows, total) = self.state.0.store.list_agents(self.id(), &filter).await?;
        let agents = rows.iter().map(|r| AgentView::from_row(r, now)).collect();
        Ok(AgentPage {
            agents,
            page,
            limit,
            total,
        })
    }

    async fn row(&self, id: &str) -> ApiResult<crate::store::AgentRow> {
        let id = parse_agent_id(id)?;
        let row = self
            .state
            .0
            .store
            .get_agent(self.id(), &id.to_string())
            .await?;
        row.ok_or(ApiError::NotFound)
    }

    pub async fn agent_view(&self, id: &str) -> ApiResult<AgentView> {
        Ok(AgentView::from_row(&self.row(id).await?, self.state.now()))
    }

    pub async fn agent(&self, id: &str) -> ApiResult<AgentDetail> {
        let row = self.row(id).await?;
        let config = match &row.config_sealed {
            Some(sealed) => {
                let bytes = self
                    .state
                    .open("agents", "config_sealed", &row.id, sealed)?;
                Some(serde_json::from_slice(&bytes).map_err(ApiError::internal)?)
            }
            None => None,
        };
        let wrapped_secret = row
            .wrapped_secret
            .as_deref()
            .and_then(|w| serde_json::from_str(w).ok());
        Ok(AgentDetail {
            agent: AgentView::from_row(&row, self.state.now()),
            config,
            wrapped_secret,
        })
    }

    pub async fn create_agent(
        &self,
        name: &str,
        fleet_id: Option<&str>,
        profile: Option<&str>,
        gateway_url: Option<&str>,
    ) -> ApiResult<CreatedAgent> {
        let name = name.trim();
        if !valid_name(name) {
            return Err(ApiError::invalid(
                "name must be 1 to 100 characters, without control characters",
            ));
        }
        if let Some(fid) = fleet_id {
            self.fleet(fid)
                .await
                .map_err(|_| ApiError::invalid("fleet_id: no such fleet"))?;
        }
        let profile = profile.unwrap_or("dev");
        let policy = policy(profile)
            .ok_or_else(|| ApiError::invalid("policy_profile must be one of dev, ops, exec"))?;
        if let Some(url) = gateway_url {
            let plain = !url.chars().any(|c| c.is_control() || c.is_whitespace());
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.len() > 500
                || !plain
            {
                return Err(ApiError::invalid("gateway_url must be an http(s) URL"));
            }
        }
        let id = AgentId::new_v4().to_string();
        let secret = AgentSecret::generate();
        let now = self.state.now();
        let new = NewAgent {
            secret_sealed: self.state.seal(
                "agents",
                "secret_sealed",
                &id,
                secret.expose_secret().as_bytes(),
            ),
            id: id.clone(),
            owner_id: self.id().into(),
            fleet_id: fleet_id.map(Into::into),
            name: name.into(),
            policy_profile: profile.into(),
            gateway_url: gateway_url.map(Into::into),
            heartbeat_interval: policy.heartbeat_interval as i64,
            created_at: now,
        };
        self.state.0.store.create_agent(&new).await?;
        self.state.notify_change(self.id(), &id, false);
        let agent = self.agent_view(&id).await?;
        Ok(CreatedAgent {
            agent,
            agent_secret: secret.expose_secret().to_string(),
        })
    }

    pub async fn delete_agent(&self, id: &str) -> ApiResult<()> {
        let id = parse_agent_id(id)?.to_string();
        if !self.state.0.store.delete_agent(self.id(), &id).await? {
            return Err(ApiError::NotFound);
        }
        self.state.0.cache.invalidate(&id);
        self.state.notify_change(self.id(), &id, true);
        Ok(())
    }

    pub async fn set_wrapped_secret(
        &self,
        id: &str,
        wrapped: &Value,
        password: Option<&str>,
        made_under: Option<&Value>,
    ) -> ApiResult<AgentDetail> {
        let row = self.row(id).await?;
        let wrapped = Sealed::parse(wrapped)
            .map_err(|e| ApiError::invalid(format!("wrapped_secret: {e}")))?;
        if self.user.kdf.is_none() {
            return Err(ApiError::Conflict("set up the master key first".into()));
        }
        let first = row.wrapped_secret.is_none();
        if !first {
            self.require_password(password)?;
        }
        let text = wrapped.to_json().to_string();
        // The key the client wrapped under (when it says), else the one current when this
        // request began: the store refuses the wrap if the master key is another by then.
        let claimed = match made_under {
            Some(v) => Some(
                Sealed::parse(v)
                    .map_err(|e| ApiError::invalid(format!("key_check: {e}")))?
                    .to_json()
                    .to_string(),
            ),
            None => None,
        };
        let key_check = claimed
            .as_deref()
            .or(self.user.key_check.as_deref())
            .unwrap_or_default();
        match self
            .state
            .0
            .store
            .set_wrapped_secret(self.id(), &row.id, &text, first, key_check)
            .await?
        {
            WrapOutcome::Stored => self.agent(&row.id).await,
            WrapOutcome::KeyChanged => Err(ApiError::Conflict(
                "the master key changed meanwhile; unlock with the new key and try again".into(),
            )),
            WrapOutcome::NotStored => {
                // Deleted meanwhile (404), or wrapped meanwhile: now a replacement.
                self.row(&row.id).await?;
                Err(ApiError::PasswordRequired)
            }
        }
    }

    /// Stores the browser's envelope as version + 1, sealed under the at-rest layer.
    pub async fn save_config(&self, id: &str, envelope: &Value) -> ApiResult<i64> {
        let row = self.row(id).await?;
        let env = Envelope::parse(envelope).map_err(|e| {
            ApiError::ConfigNotEncrypted(format!("config is not an encrypted envelope: {e}"))
        })?;
        if env.agent_id.to_string() != row.id {
            return Err(ApiError::AgentMismatch);
        }
        let canonical = env.to_json().to_string();
        if canonical.len() > MAX_CONFIG_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        let version = env.version as i64;
        if version != row.config_version + 1 {
            return Err(ApiError::VersionConflict {
                stored_version: row.config_version,
            });
        }
        let sealed = self
            .state
            .seal("agents", "config_sealed", &row.id, canonical.as_bytes());
        let now = self.state.now();
        match self
            .state
            .0
            .store
            .save_config(self.id(), &row.id, version - 1, &sealed, now)
            .await?
        {
            SaveOutcome::Saved => {
                self.state.0.cache.invalidate(&row.id);
                let _ = self.state.0.config_saves.send(row.id.clone());
                self.state.notify_change(self.id(), &row.id, false);
                Ok(version)
            }
            SaveOutcome::NotFound => Err(ApiError::NotFound),
            SaveOutcome::Conflict { stored_version } => {
                Err(ApiError::VersionConflict { stored_version })
            }
        }
    }

    pub async fn rotate_secret(&self, id: &str) -> ApiResult<RotatedSecret> {
        let row = self.row(id).await?;
        let secret = AgentSecret::generate();
        let sealed = self.state.seal(
            "agents",
            "secret_sealed",
            &row.id,
            secret.expose_secret().as_bytes(),
        );
        if !self
            .state
            .0
            .store
            .rotate_secret(self.id(), &row.id, &sealed)
            .await?
        {
            return Err(ApiError::NotFound);
        }
        self.state.0.cache.invalidate(&row.id);
        self.state.notify_change(self.id(), &row.id, false);
        Ok(RotatedSecret {
            agent_secret: secret.expose_secret().to_string(),
        })
    }

    /// History since `since` (default: the last hour), at most 31 days back.
    pub async fn metrics(&self, id: &str, since: Option<i64>) -> ApiResult<Vec<MetricPointView>> {
        let row = self.row(id).await?;
        let now = self.state.now();
        let since = since.unwrap_or(now - 3600).clamp(now - 31 * 86400, now);
        // Keep a chart at a few hundred points whatever the range.
        let bucket = ((now - since) / 360).max(row.heartbeat_interval).max(1);
        let points = self
            .state
            .0
            .store
            .metrics(self.id(), &row.id, since, bucket)
            .await?;
        Ok(points
            .into_iter()
            .map(|p| MetricPointView {
                ts: p.ts,
                cpu_usage: p.cpu_usage,
                memory_usage: p.memory_usage,
                disk_usage: p.disk_usage,
                latency_ms: p.latency_ms,
            })
            .collect())
    }
}
