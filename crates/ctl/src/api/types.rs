//! The owner API's answers as the CLI reads them (docs/api.md). Only fields
//! the CLI uses or prints are named; unknown ones are ignored so a newer
//! server does not break an older CLI.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fleet {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub agent_count: Option<u64>,
}

/// One agent as listed (`Agent` in docs/api.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub fleet_id: Option<String>,
    #[serde(default)]
    pub policy_profile: Option<String>,
    #[serde(default)]
    pub gateway_url: Option<String>,
    pub status: String,
    pub last_seen: Option<i64>,
    #[serde(default)]
    pub metrics: Option<Map<String, Value>>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    pub config_version: u64,
    pub config_version_applied: Option<u64>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// `GET /api/agents/{id}`: the agent with its two opaque blobs.
#[derive(Debug, Deserialize)]
pub struct AgentDetail {
    #[serde(flatten)]
    pub agent: Agent,
    pub config: Option<Value>,
    pub wrapped_secret: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct AgentPage {
    pub agents: Vec<Agent>,
    /// The next page's `cursor`; none on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FleetList {
    pub fleets: Vec<Fleet>,
}

/// `GET /api/me/master-key`: public parameters, both null before set-up.
#[derive(Debug, Deserialize)]
pub struct MasterKeyInfo {
    pub kdf: Option<Value>,
    pub key_check: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
}
