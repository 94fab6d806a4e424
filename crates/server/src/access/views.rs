//! What the API answers: rows turned into views (sealed columns opened where the caller
//! may see them, effective status computed). Documented for OpenAPI.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::{AgentRow, FleetRow, UserRow};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FleetView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub agent_count: i64,
}

impl FleetView {
    pub(crate) fn new(f: FleetRow, agent_count: i64) -> Self {
        Self {
            id: f.id,
            name: f.name,
            created_at: f.created_at,
            agent_count,
        }
    }
}

/// An agent as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub fleet_id: Option<String>,
    pub policy_profile: String,
    pub gateway_url: Option<String>,
    /// `pending` (never seen), `healthy`, `idle`, `error` or `offline`.
    pub status: String,
    pub last_seen: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    pub version: Option<String>,
    pub error: Option<String>,
    pub heartbeat_interval: i64,
    pub config_version: i64,
    pub config_version_applied: Option<i64>,
    pub secret_last_used_at: Option<i64>,
    pub plaintext_secret_seen_at: Option<i64>,
    pub created_at: i64,
    /// From the latest heartbeat: `ready`, or `not_set_up` when the agent runs
    /// monitor-only (no `ENCRYPTION_SECRET`); null when the agent does not say.
    pub config_delivery: Option<String>,
    /// `hmac` (SPEC §2, an agent secret) or `ed25519` (SPEC-identity, a key pair made
    /// on the host; the server holds only the public key).
    pub identity: String,
    /// The enrolled `ocf_pk_…` key of an Ed25519 agent; null for an HMAC agent and for
    /// an Ed25519 agent that has not enrolled (since its latest enrollment token).
    pub public_key: Option<String>,
    /// When that key was enrolled.
    pub enrolled_at: Option<i64>,
}

/// The effective status: offline after three missed heartbeat intervals.
pub fn effective_status(row: &AgentRow, now: i64) -> String {
    match row.last_seen {
        None => "pending".into(),
        Some(seen) if seen + 3 * row.heartbeat_interval < now => "offline".into(),
        Some(_) => row.status.clone().unwrap_or_else(|| "healthy".into()),
    }
}

impl AgentView {
    pub fn from_row(row: &AgentRow, now: i64) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            fleet_id: row.fleet_id.clone(),
            policy_profile: row.policy_profile.clone(),
            gateway_url: row.gateway_url.clone(),
            status: effective_status(row, now),
            last_seen: row.last_seen,
            metrics: row
                .metrics
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            version: row.agent_version.clone(),
            error: row.last_error.clone(),
            heartbeat_interval: row.heartbeat_interval,
            config_version: row.config_version,
            config_version_applied: row.config_version_applied,
            secret_last_used_at: row.secret_last_used_at,
            plaintext_secret_seen_at: row.plaintext_secret_seen_at,
            created_at: row.created_at,
            config_delivery: row.config_delivery.clone(),
            identity: row.identity.clone(),
            public_key: row.public_key.clone(),
            enrolled_at: row.enrolled_at,
        }
    }
}

/// One agent with its end-to-end encrypted config and wrapped secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentDetail {
    #[serde(flatten)]
    pub agent: AgentView,
    /// The browser's envelope (SPEC §4), exactly as stored.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// The ENCRYPTION_SECRET wrapped under the owner's master key (SPEC §5).
    #[schema(value_type = Option<Object>)]
    pub wrapped_secret: Option<Value>,
}

/// A page of the agent list (see docs/api.md "Listing agents").
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentPage {
    pub agents: Vec<AgentView>,
    pub limit: i64,
    /// Pass as `cursor` (with the same filters and sort) for the next page; null on the
    /// last page.
    pub next_cursor: Option<String>,
    /// Only when paging by `page` (the older offset paging).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    /// Agents matching the fleet and status filters. Exact with `page`; otherwise taken
    /// from `counts`; null with a name search (`q`) when paging by cursor.
    pub total: Option<i64>,
    /// The owner's agents per status, within the fleet filter (not the status filter or
    /// the search): a few seconds old at most for an owner of thousands of agents.
    pub counts: StatusCountsView,
}

/// Agents per effective status.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct StatusCountsView {
    pub pending: i64,
    pub healthy: i64,
    pub idle: i64,
    pub error: i64,
    pub offline: i64,
    pub total: i64,
}

impl StatusCountsView {
    /// From the store's per-stored-status rows (NULL is pending).
    pub fn from_rows(rows: &crate::store::StatusCounts) -> Self {
        let mut c = Self::default();
        for (status, n) in rows {
            match status.as_deref() {
                None => c.pending += n,
                Some("idle") => c.idle += n,
                Some("error") => c.error += n,
                Some("offline") => c.offline += n,
                Some(_) => c.healthy += n,
            }
            c.total += n;
        }
        c
    }

    /// The count of one status name.
    pub fn of(&self, status: &str) -> i64 {
        match status {
            "pending" => self.pending,
            "healthy" => self.healthy,
            "idle" => self.idle,
            "error" => self.error,
            "offline" => self.offline,
            _ => 0,
        }
    }
}

/// The answer to agent creation: the secret (HMAC) or the enrollment token (Ed25519) is
/// shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedAgent {
    pub agent: AgentView,
    /// HMAC agents: the `ocf_as_…` AGENT_SECRET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_secret: Option<String>,
    /// Ed25519 agents: the single-use `ocf_et_…` token the agent enrolls with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_token: Option<String>,
    /// Ed25519 agents: when that token expires (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_token_expires_at: Option<i64>,
}

/// A new enrollment token (shown this once) and the agent, now awaiting enrollment.
#[derive(Serialize, ToSchema)]
pub struct IssuedEnrollment {
    pub agent: AgentView,
    pub enrollment_token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    pub agent_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MasterKeyView {
    #[schema(value_type = Option<Object>)]
    pub kdf: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub key_check: Option<Value>,
}

/// Heartbeat history for a chart (docs/api.md, "Heartbeat history").
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsView {
    pub points: Vec<MetricPointView>,
    /// The stored resolution the points were read at, seconds: 0 (raw samples), 60, 300
    /// or 3600.
    pub resolution: i64,
    /// The width of each point, seconds (a point's `ts` is its start).
    pub bucket: i64,
}

/// One point: the averages of its samples (fields as before rollups), their count and
/// their maxima.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricPointView {
    pub ts: i64,
    pub cpu_usage: Option<f64>,
    pub memory_usage: Option<f64>,
    pub disk_usage: Option<f64>,
    pub latency_ms: Option<f64>,
    pub samples: i64,
    pub max: MetricValues,
}

/// The four chart metrics.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricValues {
    pub cpu_usage: Option<f64>,
    pub memory_usage: Option<f64>,
    pub disk_usage: Option<f64>,
    pub latency_ms: Option<f64>,
}

/// One stored config version, without its envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigVersionView {
    pub version: i64,
    pub saved_at: i64,
    /// The id of the session that saved it (see `GET /api/me`), or `operator`.
    pub saved_by: String,
}

/// One stored config version with its envelope, exactly as the browser sealed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigVersionDetail {
    #[serde(flatten)]
    pub version: ConfigVersionView,
    #[schema(value_type = Object)]
    pub config: Value,
}
