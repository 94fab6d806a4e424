//! The public scope: what anyone may attempt — registration, login, the agent's signed
//! handshake (SPEC §2, HMAC or Ed25519 per SPEC-identity) and enrollment (`enroll`).
//! Failures here feed the limits of `crate::auth::limits`.

use std::net::IpAddr;

use openclaw_fleet_protocol::handshake::{HandshakeAlg, HandshakeRejection, HandshakeRequest};
use openclaw_fleet_protocol::{
    policy, AgentId, AgentSecret, HandshakeResponse, IdentityKey, PublicKey, DEFAULT_POLICY,
    IDENTITY_KEY_PREFIX,
};
use serde_json::Value;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::activity::{entry, Action, Actor};
use super::*;
use crate::auth::password;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::{
    AgentCredentials, HandshakeAttempt, HandshakeOutcome, UserRow, IDENTITY_ED25519, IDENTITY_HMAC,
};

pub struct Public(pub(super) AppState);

/// A new owner session: the token is handed to the client once.
pub struct NewSession {
    pub token: Zeroizing<String>,
    pub user: UserView,
    pub max_age: i64,
}

impl Public {
    pub async fn status(&self) -> ApiResult<(bool, bool)> {
        let users = self.0 .0.store.count_users().await?;
        Ok((users > 0, users == 0 || self.0.settings().open_registration))
    }

    /// Creates an account. `operator` (the admin CLI, which already holds the database)
    /// may create one while registration is closed.
    pub async fn register(&self, email: &str, pass: &str, operator: bool) -> ApiResult<UserView> {
        let email = normalize_email(email)?;
        if let Some(msg) = password::check_policy(pass) {
            return Err(ApiError::invalid(msg));
        }
        let store = &self.0 .0.store;
        let has_users = store.count_users().await? > 0;
        let open = self.0.settings().open_registration || operator;
        if has_users && !open {
            return Err(ApiError::RegistrationClosed);
        }
        let user = UserRow {
            id: openclaw_fleet_protocol::UserId::new_v4().to_string(),
            email,
            password_hash: password::hash(pass).await?,
            kdf: None,
            key_check: None,
            created_at: self.0.now(),
            disabled_at: None,
        };
        let conflict = |e| match e {
            crate::store::StoreError::Conflict => {
                ApiError::Conflict("an account with this email already exists".into())
            }
            other => other.into(),
        };
        // The count above may be stale: with none seen, claim the first account
        // atomically; losing the claim means registration has just closed.
        let first = !has_users && store.create_first_user(&user).await.map_err(conflict)?;
        if !first {
            if !open {
                return Err(ApiError::RegistrationClosed);
            }
            store.create_user(&user).await.map_err(conflict)?;
        }
        tracing::info!(user_id = %user.id, "account registered");
        Ok((&user).into())
    }

    /// Opens a session; `user_agent` is kept with it (trimmed) so the owner can tell their
    /// sessions apart.
    pub async fn login(
        &self,
        email: &str,
        pass: &str,
        ip: IpAddr,
        user_agent: Option<&str>,
    ) -> ApiResult<NewSession> {
        let state = &self.0;
        let email = email.trim().to_lowercase();
        let attempt = state
            .0
            .limits
            .begin_login(&email, ip)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        let user = state.0.store.user_by_email(&email).await?;
        let ok = password::verify(pass, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let user = match user {
            Some(user) if ok => user,
            other => {
                tracing::info!(%ip, "login failed");
                if let Some(user) = other {
                    // Queued, not awaited: the answer takes as long as for an unknown
                    // account.
                    let mut e = entry(
                        &user.id,
                        state.now(),
                        Action::SignInFailed,
                        Actor::Anonymous,
                    );
                    e.client_addr = Some(ip.to_string());
                    state.0.recorder.record(e);
                }
                return Err(ApiError::InvalidCredentials);
            }
        };
        state.0.limits.login_succeeded(attempt);
        if user.disabled_at.is_some() {
            tracing::info!(user_id = %user.id, "login to a disabled account refused");
            return Err(ApiError::AccountDisabled);
        }
        let token = tokens::generate(tokens::SESSION_PREFIX);
        let now = state.now();
        let ttl = state.settings().session_ttl_secs;
        let (id, addr) = (uuid::Uuid::new_v4().to_string(), ip.to_string());
        let user_agent = user_agent.and_then(shown_user_agent);
        let mut signed_in = entry(&user.id, now, Action::SignIn, Actor::Session);
        signed_in.object_id = Some(id.clone());
        signed_in.actor_id = Some(id.clone());
        signed_in.client_addr = Some(addr.clone());
        state
            .0
            .store
            .create_session(
                &crate::store::NewSession {
                    token_hash: &tokens::hash(&token),
                    id: &id,
                    user_id: &user.id,
                    now,
                    expires_at: now + ttl,
                    user_agent: user_agent.as_deref(),
                    client_addr: Some(&addr),
                },
                &signed_in,
            )
            .await?;
        Ok(NewSession {
            token,
            user: (&user).into(),
            max_age: ttl,
        })
    }

    /// SPEC §2, in its order: body, window, signature (same answer and work for an
    /// unknown agent), single use. A failure counts against the client's source and the
    /// (agent, source) pair; past either limit a failing attempt answers 429 instead. A
    /// verified signature is never refused by a counter (a replay still says `replayed`).
    pub async fn handshake(&self, body: &Value, ip: IpAddr) -> ApiResult<HandshakeResponse> {
        let agent_id = body
            .get("agent_id")
            .and_then(Value::as_str)
            .and_then(|id| AgentId::parse(id).ok())
            .map(|id| id.to_string());
        let limits = &self.0 .0.limits;
        let err = match self.verified_handshake(body, ip).await {
            Ok(answer) => {
                if let Some(id) = &agent_id {
                    limits.handshake_succeeded(id, ip);
                }
                return Ok(answer);
            }
            Err(err) => err,
        };
        let counted = matches!(
            err,
            ApiError::InvalidRequest(_)
                | ApiError::PlaintextSecret
                | ApiError::TimestampOutOfWindow { .. }
                | ApiError::Unauthorized
                | ApiError::Replayed
        );
        if !counted {
            return Err(err);
        }
        let limited = limits.handshake_failed(agent_id.as_deref(), ip);
        tracing::info!(agent_id = agent_id.as_deref().unwrap_or("-"), %ip, error = err.status().1, "handshake refused");
        match limited {
            Err(retry_after) if !matches!(err, ApiError::Replayed) => {
                Err(ApiError::RateLimited { retry_after })
            }
            _ => Err(err),
        }
    }

    async fn verified_handshake(&self, body: &Value, ip: IpAddr) -> ApiResult<HandshakeResponse> {
        let state = &self.0;
        let req = match HandshakeRequest::parse(body) {
            Ok(req) => req,
            Err(HandshakeRejection::PlaintextSecret) => {
                self.record_plaintext_secret(body, ip).await?;
                return Err(ApiError::PlaintextSecret);
            }
            Err(HandshakeRejection::Invalid(msg)) => return Err(ApiError::invalid(msg)),
        };
        let agent_id = req.agent_id.to_string();
        let now = state.now();
        let window = state.settings().handshake_window_secs;
        if (i128::from(now) - i128::from(req.timestamp)).abs() > i128::from(window) {
            return Err(ApiError::TimestampOutOfWindow { server_time: now });
        }
        let token = tokens::generate(tokens::AGENT_PREFIX);
        let token_hash = tokens::hash(&token);
        let ttl = state.settings().agent_token_ttl_secs;
        // A rotation or deletion committed after this handshake's changes the epoch, so
        // neither the token nor the row is cached below (they would be stale).
        let epoch = state.0.cache.epoch();
        // Verified in the writer's batch, against the credentials read there under the
        // batch's lock: never the cache, so a rotation through another replica is seen at
        // once, and a known agent costs what an unknown one does (SPEC §2).
        let attempt = HandshakeAttempt {
            agent_id: agent_id.clone(),
            signature: req.signature.clone(),
            token_hash: token_hash.clone(),
            now,
            expires_at: now + ttl,
        };
        let mut row = match state.0.writer.handshake(req, attempt).await? {
            HandshakeOutcome::Accepted(row) => row,
            HandshakeOutcome::Replayed => return Err(ApiError::Replayed),
            HandshakeOutcome::Refused => return Err(ApiError::Unauthorized),
        };
        // The agent's first heartbeat then finds its token and row in memory.
        state.0.cache.put_token(
            &token_hash,
            super::cache::TokenEntry {
                agent_id: agent_id.as_str().into(),
                expires_at: now + ttl,
            },
            epoch,
        );
        // The secret's last use is telemetry: shown at once, written by the next flush.
        state.0.latest.secret_used(&row, now);
        if row.secret_last_used_at.is_none_or(|t| t < now) {
            row.secret_last_used_at = Some(now);
        }
        // Read under the batch's lock after the signature was recorded: the answer
        // carries the config current at acceptance.
        let row = state.0.cache.put_agent(*row, epoch);
        state.notify_change(&row.owner_id, &agent_id, false);
        tracing::debug!(agent_id = %agent_id, "agent handshake accepted");
        let config = match &row.config_sealed {
            Some(sealed) => {
                let bytes = state.open("agents", "config_sealed", &row.id, sealed)?;
                Some(serde_json::from_slice(&bytes).map_err(ApiError::internal)?)
            }
            None => None,
        };
        Ok(HandshakeResponse {
            token: token.to_string(),
            expires_in: ttl as u64,
            heartbeat_interval: row.heartbeat_interval as u64,
            policy: policy(&row.policy_profile).unwrap_or_else(default_policy),
            gateway_url: row.gateway_url.clone(),
            config,
            config_version: row.config_version as u64,
            server_time: now.max(0) as u64,
        })
    }

    /// Checks the signature against the agent's credential of the request's `alg` (its
    /// sealed secret, or its enrolled public key, verified strictly). When there is none
    /// — an unknown agent, an agent of the other identity type, one not yet enrolled — it
    /// checks against a throwaway credential of the same kind, prepared the same way (one
    /// at-rest open and one HMAC; one key parse and one Ed25519 verification), so every
    /// failure costs the same. Called by the writer's batch (`writer`), under its lock.
    pub(super) fn verify(
        &self,
        creds: Option<&AgentCredentials>,
        agent_id: &str,
        req: &HandshakeRequest,
    ) -> ApiResult<bool> {
        let inner = &self.0 .0;
        let of_kind = |identity: &str| creds.filter(|c| c.identity == identity);
        match req.alg {
            HandshakeAlg::Hmac => {
                let real = of_kind(IDENTITY_HMAC).and_then(|c| c.secret_sealed.as_deref());
                let secret = match real {
                    Some(sealed) => self.agent_secret(agent_id, sealed)?,
                    None => self.agent_secret(UNKNOWN_AGENT_ROW, &inner.unknown_agent_secret)?,
                };
                let valid = req.verify(&secret);
                Ok(real.is_some() && valid)
            }
            HandshakeAlg::Ed25519 => {
                let real = of_kind(IDENTITY_ED25519).and_then(|c| c.public_key.as_deref());
                let text = real.unwrap_or(&inner.unknown_agent_public_key);
                let key = PublicKey::parse(text).map_err(ApiError::internal)?;
                let valid = req.verify_ed25519(&key);
                Ok(real.is_some() && valid)
            }
        }
    }

    fn agent_secret(&self, agent_id: &str, secret_sealed: &str) -> ApiResult<AgentSecret> {
        let bytes =
            Zeroizing::new(
                self.0
                    .open("agents", "secret_sealed", agent_id, secret_sealed)?,
            );
        let text = String::from_utf8(bytes.to_vec()).map_err(ApiError::internal)?;
        AgentSecret::from_opaque(text).map_err(ApiError::internal)
    }

    /// A body carried a secret in plaintext: if it is the agent's real secret, or the
    /// identity key of its enrolled public key (anywhere in the body), flag the agent so
    /// its owner is told to rotate or re-enroll. The answer is the same either way.
    async fn record_plaintext_secret(&self, body: &Value, ip: IpAddr) -> ApiResult<()> {
        let Some(id) = body.get("agent_id").and_then(Value::as_str) else {
            return Ok(());
        };
        let Ok(id) = openclaw_fleet_protocol::AgentId::parse(id) else {
            return Ok(());
        };
        let Some(row) = self.0 .0.store.agent_by_id(&id.to_string()).await? else {
            return Ok(());
        };
        let secret = match &row.secret_sealed {
            Some(sealed) => Some(self.agent_secret(&row.id, sealed)?),
            None => None,
        };
        let is_own_key = |s: &str| {
            s.starts_with(IDENTITY_KEY_PREFIX)
                && row.public_key.as_deref().is_some_and(|pk| {
                    IdentityKey::parse(s).is_ok_and(|k| k.public_key().to_encoded() == pk)
                })
        };
        // Any string at any depth: nested, it is just as exposed.
        let mut stack = vec![body];
        let mut leaked = false;
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => {
                    if let Some(secret) = &secret {
                        leaked |= bool::from(s.as_bytes().ct_eq(secret.expose_secret().as_bytes()));
                    }
                    leaked |= is_own_key(s);
                }
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
        if leaked {
            self.0
                 .0
                .store
                .mark_plaintext_secret(&row.id, self.0.now())
                .await?;
            self.0.notify_change(&row.owner_id, &row.id, false);
            self.0.alert_plaintext(&row.owner_id, &row.id, false);
            let now = self.0.now();
            let mut e = entry(
                &row.owner_id,
                now,
                Action::PlaintextSecretSeen,
                Actor::Agent,
            );
            e.object_id = Some(row.id.clone());
            e.object_name = Some(row.name.clone());
            e.actor_id = Some(row.id.clone());
            e.client_addr = Some(ip.to_string());
            self.0 .0.recorder.record(e);
            tracing::warn!(agent_id = %row.id, "agent sent its secret in plaintext; owner told to rotate");
        }
        Ok(())
    }
}

/// A user agent as kept with a session: at most 200 characters, no control characters,
/// and nothing that looks like a secret (it is stored in plaintext).
fn shown_user_agent(ua: &str) -> Option<String> {
    let clean: String = ua.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim();
    (!clean.is_empty() && crate::audit::secret_pattern(clean).is_none()).then(|| clean.to_string())
}

fn normalize_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(ApiError::invalid("email must be a valid address"))
    }
}

fn default_policy() -> openclaw_fleet_protocol::Policy {
    policy(DEFAULT_POLICY).expect("the default policy is built in")
}
