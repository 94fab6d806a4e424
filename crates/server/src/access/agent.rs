//! The agent scope: a host authenticated by its session token (SPEC §3). It can report
//! heartbeats and read its own config envelope, nothing else.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use openclaw_fleet_protocol::{policy, HeartbeatRequest};
use serde_json::{json, Value};

use super::cache::TokenEntry;
use super::*;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::HeartbeatRecord;
use crate::telemetry::{names, InProgress};

/// The longest long-poll a client may ask for (SPEC §3).
pub const MAX_WAIT_SECS: u64 = 60;
/// How often a waiting long-poll re-reads when no replica notice can be missed.
const SAFETY_REREAD_LIVE: Duration = Duration::from_secs(15);

pub struct AgentSession {
    state: AppState,
    agent_id: String,
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
                let (agent_id, expires_at) = state
                    .0
                    .store
                    .agent_token(&token_hash, now)
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
                let entry = TokenEntry {
                    agent_id,
                    expires_at,
                };
                state.0.cache.put_token(&token_hash, entry.clone());
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
        if agent_id == self.agent_id {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    pub async fn heartbeat(&self, body: &Value) -> ApiResult<Value> {
        let req = HeartbeatRequest::parse(body).map_err(|e| ApiError::invalid(e.to_string()))?;
        self.ensure_self(&req.agent_id.to_string())?;
        let state = &self.state;
        let now = state.now();
        let metric = |k: &str| req.metrics.get(k).copied();
        let record = HeartbeatRecord {
            agent_id: self.agent_id.clone(),
            ts: now,
            status: req.status.as_str().into(),
            metrics_json: serde_json::to_string(&req.metrics).map_err(ApiError::internal)?,
            cpu_usage: metric("cpu_usage"),
            memory_usage: metric("memory_usage"),
            disk_usage: metric("disk_usage"),
            latency_ms: metric("latency_ms"),
            agent_version: req.version.clone(),
            config_version_applied: req.config_version_applied.map(|v| v as i64),
            error: req.error.clone(),
            machine_id: req.machine_id.clone(),
            location: req.location.clone(),
            model: req.model.clone(),
            config_delivery: req.config_delivery.map(|d| d.as_str().to_owned()),
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
            let stored = state
                .0
                .store
                .renew_agent_token(
                    &self.agent_id,
                    &self.token_hash,
                    &tokens::hash(&token),
                    now,
                    now + ttl,
                )
                .await?;
            if !stored {
                state.0.cache.invalidate(&self.agent_id);
                return Err(ApiError::Unauthorized);
            }
            Some(token)
        } else {
            None
        };
        state.0.writer.heartbeat(record).await?;
        state.notify_change(&row.owner_id, &row.id, false);
        state.alert_heartbeat(
            &row.owner_id,
            &row.id,
            row.fleet_id.as_deref(),
            super::alerts::facts_of(req.status.as_str(), req.error.as_deref(), &req.metrics),
        );
        let mut answer = json!({
            "message": "Heartbeat received",
            "status": req.status.as_str(),
            "policy": policy(&row.policy_profile),
            "heartbeat_interval": row.heartbeat_interval,
            "config_version": row.config_version,
        });
        if let Some(token) = renewed {
            answer["token"] = json!(token.as_str());
            answer["expires_in"] = json!(ttl);
        }
        Ok(answer)
    }

    /// The stored envelope; with `after_version`, waits up to `wait` seconds for a newer
    /// one. Wakes at once on a save, rotation, edit or deletion through this replica, or
    /// through another one whose notice arrives (PostgreSQL, see `bus`), and re-reads
    /// (the re-read also notices a revoked token). Without a live listener (SQLite, or
    /// while the listener reconnects) it also re-reads the database each second; with
    /// one, every [`SAFETY_REREAD_LIVE`] in case a notice was lost. A draining server
    /// answers at once with what it has ("no change").
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
            let every = if state.replicas_live() {
                SAFETY_REREAD_LIVE
            } else {
                Duration::from_secs(1)
            };
            let tick = tokio::time::Instant::now() + every;
            tokio::select! {
                _ = wait_for_save(&mut saves, &self.agent_id) => {}
                _ = tokio::time::sleep_until(tick.min(deadline)) => {}
                _ = state.until_draining() => {}
            }
        }
    }
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
