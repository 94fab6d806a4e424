//! The host side (SPEC §2–3): signed handshake (HMAC or Ed25519), Ed25519 enrollment
//! (SPEC-identity), heartbeats, config fetch and long-poll.

use axum::extract::State;
use axum::Json;
use openclaw_fleet_protocol::HandshakeResponse;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use crate::access::{AgentSession, AppState, EnrolledAgent, HeartbeatAnswer};
use crate::client_addr::ClientAddr;
use crate::error::ApiResult;
use crate::json::{ApiJson, ApiPath, ApiQuery};

/// Exchanges a signed, single-use, time-windowed proof of the agent secret (or, with
/// `alg: "ed25519"`, of the agent's identity key) for a token.
#[utoipa::path(post, path = "/api/agents/handshake", tag = "agent", security(),
    request_body(content = Object, description = "`{agent_id, timestamp, signature}` (SPEC §2), \
        or `{agent_id, timestamp, alg: \"ed25519\", signature}` (SPEC-identity)"),
    responses((status = 200, body = Object, description = "token, policy and config envelope"),
              (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody)))]
pub async fn handshake(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<HandshakeResponse>> {
    Ok(Json(state.public().handshake(&body, ip).await?))
}

/// Enrolls an Ed25519 agent's public key with its single-use enrollment token and a
/// proof of key possession. Every failure is the same 401 `unauthorized` and spends
/// nothing; failures are rate limited per source address (429).
#[utoipa::path(post, path = "/api/agents/enroll", tag = "agent", security(),
    request_body(content = Object, description = "`{agent_id, enrollment_token, public_key, \
        timestamp, signature}` (SPEC-identity)"),
    responses((status = 200, body = EnrolledAgent),
              (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody)))]
pub async fn enroll(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<EnrolledAgent>> {
    Ok(Json(state.public().enroll(&body, ip).await?))
}

/// Reports status and metrics; answers with the policy and the stored config version.
#[utoipa::path(post, path = "/api/heartbeat", tag = "agent",
    request_body(content = Object, description = "SPEC §3 heartbeat"),
    responses((status = 200, body = Object), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody)),
    security(("agent_token" = [])))]
pub async fn heartbeat(
    session: AgentSession,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<HeartbeatAnswer>> {
    Ok(Json(session.heartbeat(&body).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConfigQuery {
    /// Wait for a version above this one.
    pub after_version: Option<i64>,
    /// Seconds to wait (≤ 60).
    pub wait: Option<u64>,
}

/// The agent's config envelope, optionally long-polling for a newer version.
#[utoipa::path(get, path = "/api/agents/{id}/config", tag = "agent",
    params(("id" = String, Path), ConfigQuery),
    responses((status = 200, body = Object), (status = 401, body = super::ErrorBody)),
    security(("agent_token" = [])))]
pub async fn config(
    session: AgentSession,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ConfigQuery>,
) -> ApiResult<Json<Value>> {
    session.ensure_self(&id)?;
    let wait = if q.after_version.is_some() {
        q.wait.unwrap_or(0)
    } else {
        0
    };
    Ok(Json(session.config(q.after_version, wait).await?))
}
