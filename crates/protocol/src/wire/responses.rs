//! The server's answers to the agent (SPEC §2–3). Two of them carry a bearer
//! token, so their Debug output redacts it and they are not Clone.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AgentStatus, Policy};

/// 200 answer of `POST /api/agents/handshake`.
#[derive(Serialize, Deserialize)]
pub struct HandshakeResponse {
    pub token: String,
    pub expires_in: u64,
    pub heartbeat_interval: u64,
    pub policy: Policy,
    pub gateway_url: Option<String>,
    pub config: Option<Value>,
    pub config_version: u64,
    pub server_time: u64,
}

/// Answer of `POST /api/heartbeat`; `token`/`expires_in` appear when the
/// presented token is close to expiry.
#[derive(Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub message: String,
    pub status: AgentStatus,
    pub policy: Policy,
    pub heartbeat_interval: u64,
    pub config_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// Answer of `GET /api/agents/{id}/config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigResponse {
    pub config: Option<Value>,
    pub config_version: u64,
}

impl fmt::Debug for HandshakeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeResponse")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("policy", &self.policy.name)
            .field("gateway_url", &self.gateway_url)
            .field("config", &self.config.is_some())
            .field("config_version", &self.config_version)
            .field("server_time", &self.server_time)
            .finish()
    }
}

impl fmt::Debug for HeartbeatResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeartbeatResponse")
            .field("message", &self.message)
            .field("status", &self.status)
            .field("policy", &self.policy.name)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("config_version", &self.config_version)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("expires_in", &self.expires_in)
            .finish()
    }
}
