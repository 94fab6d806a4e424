//! `POST /api/agents/enroll` (spec/SPEC-identity.md): an Ed25519 agent proves it holds
//! the private key of the public key it brings, and spends its single-use enrollment
//! token. Every failure — unknown agent, wrong, spent, expired or another agent's token,
//! bad proof — is the same 401 `unauthorized` and spends nothing; failures count
//! against the client's source, and only failures are ever answered 429, so an
//! attacker elsewhere cannot lock the rightful agent out.

use std::net::IpAddr;

use openclaw_fleet_protocol::handshake::HandshakeRejection;
use openclaw_fleet_protocol::EnrollRequest;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::activity::{entry, Action, Actor};
use super::Public;
use crate::error::{ApiError, ApiResult};

/// The answer of a successful enrollment.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolledAgent {
    pub agent_id: String,
    /// Always `ed25519`.
    pub identity: &'static str,
    /// The `ocf_pk_…` key now stored for the agent.
    pub public_key: String,
    pub enrolled_at: i64,
}

impl Public {
    pub async fn enroll(&self, body: &Value, ip: IpAddr) -> ApiResult<EnrolledAgent> {
        let limits = &self.0 .0.limits;
        let err = match self.verified_enroll(body, ip).await {
            Ok(answer) => return Ok(answer),
            Err(err) => err,
        };
        let counted = matches!(
            err,
            ApiError::InvalidRequest(_)
                | ApiError::PlaintextSecret
                | ApiError::TimestampOutOfWindow { .. }
                | ApiError::Unauthorized
        );
        if !counted {
            return Err(err);
        }
        tracing::info!(%ip, error = err.status().1, "enrollment refused");
        match limits.enroll_failed(ip) {
            Err(retry_after) => Err(ApiError::RateLimited { retry_after }),
            Ok(()) => Err(err),
        }
    }

    async fn verified_enroll(&self, body: &Value, ip: IpAddr) -> ApiResult<EnrolledAgent> {
        let state = &self.0;
        let req = match EnrollRequest::parse(body) {
            Ok(req) => req,
            Err(HandshakeRejection::PlaintextSecret) => return Err(ApiError::PlaintextSecret),
            Err(HandshakeRejection::Invalid(msg)) => return Err(ApiError::invalid(msg)),
        };
        let now = state.now();
        let window = state.settings().handshake_window_secs;
        if (i128::from(now) - i128::from(req.timestamp)).abs() > i128::from(window) {
            return Err(ApiError::TimestampOutOfWindow { server_time: now });
        }
        // The proof first: it needs no lookup, and a bad one must spend nothing.
        if !req.verify_proof() {
            return Err(ApiError::Unauthorized);
        }
        let agent_id = req.agent_id.to_string();
        let public_key = req.public_key.to_encoded();
        let mut activity = entry("", now, Action::AgentEnrolled, Actor::Agent);
        activity.object_id = Some(agent_id.clone());
        activity.actor_id = Some(agent_id.clone());
        activity.client_addr = Some(ip.to_string());
        let enrolled = state
            .0
            .store
            .enroll(
                &agent_id,
                &req.enrollment_token.hash(),
                &public_key,
                now,
                &activity,
            )
            .await?
            .ok_or(ApiError::Unauthorized)?;
        state.agent_touched(&enrolled.id);
        state.notify_change(&enrolled.owner_id, &enrolled.id, false);
        tracing::info!(agent_id = %enrolled.id, "agent enrolled with an Ed25519 key");
        Ok(EnrolledAgent {
            agent_id: enrolled.id,
            identity: crate::store::IDENTITY_ED25519,
            public_key,
            enrolled_at: now,
        })
    }
}
