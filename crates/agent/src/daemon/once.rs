//! `run --once`: one handshake, one config fetch (and apply), one
//! heartbeat reporting the result, then exit. Unlike the daemon it does not
//! retry: the first failure is the answer, as a one-line reason.

use openclaw_fleet_protocol::{AgentStatus, ConfigDelivery};

use super::Agent;
use crate::client::{ClientError, Token};

#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    #[error("handshake failed: {0}")]
    Handshake(ClientError),
    #[error("config fetch failed: {0}")]
    Fetch(ClientError),
    #[error("heartbeat failed: {0}")]
    Heartbeat(ClientError),
    #[error("config refused ({code}): {message}; the last good config was kept")]
    ConfigRefused { code: &'static str, message: String },
}

/// What a successful `--once` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceSummary {
    pub config_version_applied: u64,
    pub status: AgentStatus,
    pub error: Option<String>,
}

pub(super) async fn run(agent: &Agent) -> Result<OnceSummary, OnceError> {
    let resp = agent.handshake().await.map_err(OnceError::Handshake)?;
    let session = agent.adopt(resp).await;
    let token: Token = session.token;
    if agent.config_delivery() == ConfigDelivery::Ready {
        let after = agent.report().seen;
        let fetched = agent
            .client
            .config(&token, &agent.settings.agent_id, after, None)
            .await
            .map_err(OnceError::Fetch)?;
        if let Some(envelope) = fetched.config {
            agent.offer_config(envelope).await;
        }
    }
    let body = agent.heartbeat_body().await;
    let summary = OnceSummary {
        config_version_applied: body.config_version_applied.unwrap_or(0),
        status: body.status,
        error: body.error.clone(),
    };
    agent
        .client
        .heartbeat(&token, &body)
        .await
        .map_err(OnceError::Heartbeat)?;
    if let Some((code, message)) = agent.report().config_error {
        return Err(OnceError::ConfigRefused { code, message });
    }
    Ok(summary)
}
