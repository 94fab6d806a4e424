//! Rows as the database holds them. Sealed columns stay sealed here: opening them is the
//! access layer's job, with the at-rest key.

use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub kdf: Option<String>,
    pub key_check: Option<String>,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// The account behind a session, and which session it is.
#[derive(Debug, Clone, FromRow)]
pub struct SessionUser {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub session_id: String,
    pub session_last_used_at: Option<i64>,
}

/// A session being opened.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub id: &'a str,
    pub user_id: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub user_agent: Option<&'a str>,
    pub client_addr: Option<&'a str>,
}

#[derive(Debug, Clone, FromRow)]
pub struct FleetRow {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub created_at: i64,
}

/// An agent row. `secret_sealed` and `config_sealed` are at-rest ciphertexts.
/// `secret_sealed` is None for an Ed25519 agent (`identity = "ed25519"`), which has only
/// its public key.
#[derive(Debug, Clone, FromRow)]
pub struct AgentRow {
    pub id: String,
    pub owner_id: String,
    pub fleet_id: Option<String>,
    pub name: String,
    pub policy_profile: String,
    pub gateway_url: Option<String>,
    pub heartbeat_interval: i64,
    pub secret_sealed: Option<String>,
    pub secret_last_used_at: Option<i64>,
    pub plaintext_secret_seen_at: Option<i64>,
    pub wrapped_secret: Option<String>,
    pub config_sealed: Option<String>,
    pub config_version: i64,
    pub status: Option<String>,
    pub last_seen: Option<i64>,
    pub metrics: Option<String>,
    pub agent_version: Option<String>,
    pub config_version_applied: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// `ready`, `not_set_up`, or None when the agent does not say.
    pub config_delivery: Option<String>,
    /// `hmac` or `ed25519`.
    pub identity: String,
    /// The enrolled `ocf_pk_…` key of an Ed25519 agent.
    pub public_key: Option<String>,
    pub enrolled_at: Option<i64>,
    /// The name lowercased: the key of the name search and sort.
    #[sqlx(default)]
    pub name_fold: String,
    /// The coarse last-seen key of the `last_seen` sort (migration 0017): what a cursor of
    /// that sort holds, since the list's index is in its order.
    #[sqlx(default)]
    pub seen_key: i64,
}

/// What a new agent is created with.
pub struct NewAgent {
    pub id: String,
    pub owner_id: String,
    pub fleet_id: Option<String>,
    pub name: String,
    pub policy_profile: String,
    pub gateway_url: Option<String>,
    pub heartbeat_interval: i64,
    /// `hmac` with its sealed secret, or `ed25519` with no secret and an enrollment token.
    pub identity: &'static str,
    pub secret_sealed: Option<String>,
    pub enrollment: Option<super::NewEnrollment>,
    pub created_at: i64,
}

/// An agent's latest reported state, from its newest heartbeat: what `agents` keeps.
#[derive(Debug, Clone)]
pub struct HeartbeatRecord {
    pub agent_id: std::sync::Arc<str>,
    pub ts: i64,
    pub status: &'static str,
    pub metrics_json: String,
    pub agent_version: Option<String>,
    pub config_version_applied: Option<i64>,
    pub error: Option<String>,
    pub machine_id: Option<String>,
    pub location: Option<String>,
    pub model: Option<String>,
    pub config_delivery: Option<&'static str>,
}

/// One history sample: a row of `metrics_raw`.
#[derive(Debug, Clone)]
pub struct HeartbeatSample {
    pub agent_id: std::sync::Arc<str>,
    pub ts: i64,
    pub cpu_usage: Option<f64>,
    pub memory_usage: Option<f64>,
    pub disk_usage: Option<f64>,
    pub latency_ms: Option<f64>,
}

/// A handshake whose body and time window passed, to be verified and recorded in one
/// batch (see `BatchStore::write_batch`).
#[derive(Debug, Clone)]
pub struct HandshakeAttempt {
    pub agent_id: String,
    pub signature: String,
    /// The token handed out if it is accepted.
    pub token_hash: String,
    pub now: i64,
    pub expires_at: i64,
}

/// Result of a handshake attempt in a batch.
#[derive(Debug, Clone)]
pub enum HandshakeOutcome {
    /// Verified and recorded: the agent's row as read under the batch's lock, after the
    /// signature was recorded (so the config current at acceptance).
    Accepted(Box<AgentRow>),
    /// A valid signature, used before.
    Replayed,
    /// The signature does not verify against the agent's credential as stored when the
    /// batch locked it (or the agent does not exist).
    Refused,
}

/// Result of a compare-and-swap config save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    NotFound,
    Conflict { stored_version: i64 },
}

/// Result of storing a wrapped secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapOutcome {
    Stored,
    /// The agent is gone, or (for a first wrap) was wrapped meanwhile.
    NotStored,
    /// The master key changed since the caller loaded it.
    KeyChanged,
}

/// Result of an atomic master-key change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyOutcome {
    Saved,
    /// The re-wrapped set differs from the agents that hold a wrapped secret.
    SetMismatch,
    /// A first set-up found a key already stored (set concurrently).
    AlreadySet,
}

/// An agent the offline sweep marked.
#[derive(Debug, Clone, FromRow)]
pub struct AgentRef {
    pub id: String,
    pub owner_id: String,
}
