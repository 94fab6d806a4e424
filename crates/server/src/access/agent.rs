//! The agent scope: a host authenticated by its session token (SPEC §3). It can report
//! heartbeats and read its own config envelope, nothing else.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use openclaw_fleet_protocol::{builtin_policies, HeartbeatRequest, Policy};
use serde::Serialize;
use serde_json::{json, Value};

use super::cache::TokenEntry;
use super::latest;
use super::*;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::{HeartbeatRecord, HeartbeatSample};
use crate::telemetry::{names, InProgress};

/// The longest long-poll a client may ask for (SPEC §3).
pub const MAX_WAIT_SECS: u64 = 60;

pub struct AgentSession {
    state: AppState,
    agent_id: std::sync::Arc<str>,
    token_hash: String,
    expires_at: i64,
}

impl FromRequestParts<AppState> for AgentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(tokens::AGENT_PREFIX))
            .ok_or(ApiError::Unauthorized)?;
        let token_hash = tokens::hash(token);
        let now = state.now();
        let entry = match state.0.cache.token(&token_hash) {
            Some(entry) => entry,
            None => {
                let epoch = state.0.cache.epoch();
                let (agent_id, expires_at) = state
                    .0
                    .store
                    .agent_token(&token_hash, now)
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
                let entry = TokenEntry {
                    agent_id: agent_id.into(),
                    expires_at,
                };
                state.0.cache.put_token(&token_hash, entry.clone(), epoch);
                entry
            }
        };
        if entry.expires_at <= now {
            return Err(ApiError::Unauthorized);
        }
        let TokenEntry {
            agent_id,
            expires_at,
        } = entry;
        Ok(AgentSession {
            state: state.clone(),
            agent_id,
            token_hash,
            expires_at,
        })
    }
}

impl AgentSession {
    /// The path names an agent: it must be this session's.
    pub fn ensure_self(&self, agent_id: &str) -> ApiResult<()> {
        if agent_id == &*self.agent_id {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    pub async fn heartbeat(&self, body: &Value) -> ApiResult<HeartbeatAnswer> {
        let req = HeartbeatRequest::parse(body).map_err(|e| ApiError::invalid(e.to_string()))?;
        let mut id = uuid::Uuid::encode_buffer();
        self.ensure_self(req.agent_id.as_uuid().hyphenated().encode_lower(&mut id))?;
        let state = &self.state;
        let now = state.now();
        let metric = |k: &str| req.metrics.get(k).copied();
        let sample = HeartbeatSample {
            agent_id: self.agent_id.clone(),
            ts: now,
            cpu_usage: metric("cpu_usage"),
            memory_usage: metric("memory_usage"),
            disk_usage: metric("disk_usage"),
            latency_ms: metric("latency_ms"),
        };
        let facts =
            super::alerts::facts_of(req.status.as_str(), req.error.as_deref(), &req.metrics);
        let record = HeartbeatRecord {
            agent_id: self.agent_id.clone(),
            ts: now,
            status: req.status.as_str(),
            metrics_json: serde_json::to_string(&req.metrics).map_err(ApiError::internal)?,
            agent_version: req.version,
            config_version_applied: req.config_version_applied.map(|v| v as i64),
            error: req.error,
            machine_id: req.machine_id,
            location: req.location,
            model: req.model,
            config_delivery: req.config_delivery.map(|d| d.as_str()),
        };
        let row = state
            .agent_row(&self.agent_id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // Renew a token with under a third of its life left, so a healthy fleet never
        // drops offline together when tokens run out. The new token is stored only while
        // the presented one still is, atomically with that check (see
        // `AgentStore::renew_agent_token`): a rotation or deletion that revoked it, even
        // one this replica's cache has not seen yet, leaves nothing to renew, and the
        // heartbeat is refused.
        let ttl = state.settings().agent_token_ttl_secs;
        let renewed = if self.expires_at - now < ttl / 3 {
            let token = tokens::generate(tokens::AGENT_PREFIX);
            let token_hash = tokens::hash(&token);
            let epoch = state.0.cache.epoch();
            let stored = state
                .0
                .store
                .renew_agent_token(
                    &self.agent_id,
                    &self.token_hash,
                    &token_hash,
                    now,
                    now + ttl,
                )
                .await?;
            if !stored {
                state.0.cache.invalidate(&self.agent_id);
                return Err(ApiError::Unauthorized);
            }
            let entry = TokenEntry {
                agent_id: self.agent_id.clone(),
                expires_at: now + ttl,
            };
            state.0.cache.put_token(&token_hash, entry, epoch);
            Some(token)
        } else {
            None
        };
        // Acknowledged from memory: flushed within `latest::FLUSH_EVERY` (see there for
        // what a crash may lose). Other replicas hear of it once it is flushed.
        state
            .0
            .latest
            .record(&row, record, sample)
            .map_err(|latest::Closed| ApiError::Unavailable)?;
        state.notify_local(&row.owner_id, &row.id, false, false);
        state.alert_heartbeat(&row.owner_id, &row.id, row.fleet_id.as_deref(), facts);
        Ok(HeartbeatAnswer {
            message: "Heartbeat received",
            status: req.status.as_str(),
            policy: builtin_policy(&row.policy_profile),
            heartbeat_interval: row.heartbeat_interval,
            config_version: row.config_version,
            expires_in: renewed.is_some().then_some(ttl),
            token: renewed.map(|t| t.as_str().to_owned()),
        })
    }

    /// The stored envelope; with `after_version`, waits up to `wait` seconds for a newer
    /// one. Wakes at once on a save, rotation, edit or deletion through this replica, or
    /// through another one whose notice arrives (PostgreSQL, see `bus`), and re-reads
    /// (the re-read also notices a revoked token). A waiter never polls the database on
    /// a timer: a change made where no notice reaches this replica (a lost `NOTIFY`, a
    /// listener reconnecting, another server on the same SQLite file) is found by the
    /// replica's one read of the change log a second (`cache::watch_changes`), which
    /// wakes the agents it names; 10 000 waiters cost nothing between saves. A draining
    /// server answers at once with what it has ("no change").
    pub async fn config(&self, after_version: Option<i64>, wait: u64) -> ApiResult<Value> {
        let state = &self.state;
        let mut saves = state.0.config_saves.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(MAX_WAIT_SECS));
        let _waiting = (wait > 0).then(|| InProgress::start(names::LONG_POLL_WAITERS));
        loop {
            let (sealed, version) = state
                .0
                .store
                .agent_config_for_token(&self.token_hash, state.now())
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let newer = after_version.is_none_or(|after| version > after);
            if newer || tokio::time::Instant::now() >= deadline || state.draining() {
                let config: Option<Value> = match sealed {
                    Some(s) => {
                        let bytes = state.open("agents", "config_sealed", &self.agent_id, &s)?;
                        Some(serde_json::from_slice(&bytes).map_err(ApiError::internal)?)
                    }
                    None => None,
                };
                return Ok(json!({ "config": config, "config_version": version }));
            }
            tokio::select! {
                _ = wait_for_save(&mut saves, &self.agent_id) => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = state.until_draining() => {}
            }
        }
    }
}

/// The answer to a heartbeat (SPEC §3), serialized straight from borrowed parts.
/// Carries a bearer token when renewed: no Debug, no Clone.
#[derive(Serialize)]
pub struct HeartbeatAnswer {
    message: &'static str,
    status: &'static str,
    policy: Option<&'static Policy>,
    heartbeat_interval: i64,
    config_version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
}

/// A built-in policy by name, built once (not per heartbeat).
fn builtin_policy(name: &str) -> Option<&'static Policy> {
    static POLICIES: std::sync::OnceLock<Vec<Policy>> = std::sync::OnceLock::new();
    POLICIES
        .get_or_init(builtin_policies)
        .iter()
        .find(|p| p.name == name)
}

async fn wait_for_save(rx: &mut tokio::sync::broadcast::Receiver<String>, agent_id: &str) {
    loop {
        match rx.recv().await {
            Ok(id) if id == agent_id || id == super::bus::WAKE_ALL => return,
            Ok(_) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                std::future::pending::<()>().await
            }
        }
    }
}
