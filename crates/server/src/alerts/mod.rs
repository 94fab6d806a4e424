//! Alerts: rules an owner sets on their agents (offline for N minutes, status error,
//! config apply failed, gateway unreachable, CPU or memory above X % for N minutes,
//! plaintext secret seen) and the webhooks that tell them.
//!
//! - [`engine`]: the evaluator, pure state over heartbeats, sightings and clock ticks;
//! - [`webhook`]: the payloads (generic signed JSON, Slack, Discord), their signature,
//!   the address guard and the sending with bounded retries.
//!
//! The access layer (`access::alerts`) feeds the engine, stores rules and deliveries, and
//! decides which replica sends (see there).

pub mod engine;
pub mod webhook;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// No heartbeat for `minutes`.
    AgentOffline,
    /// The agent reports status `error`.
    StatusError,
    /// The agent reports a `config_…` error (its last config was refused or not written).
    ConfigApplyFailed,
    /// The agent reports `gateway_unreachable`.
    GatewayUnreachable,
    /// `cpu_usage` above `threshold` % for `minutes`.
    CpuAbove,
    /// `memory_usage` above `threshold` % for `minutes`.
    MemoryAbove,
    /// The agent sent its secret in plaintext (an event: fires, never resolves).
    PlaintextSecret,
}

impl Condition {
    pub const ALL: [Condition; 7] = [
        Condition::AgentOffline,
        Condition::StatusError,
        Condition::ConfigApplyFailed,
        Condition::GatewayUnreachable,
        Condition::CpuAbove,
        Condition::MemoryAbove,
        Condition::PlaintextSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::AgentOffline => "agent_offline",
            Condition::StatusError => "status_error",
            Condition::ConfigApplyFailed => "config_apply_failed",
            Condition::GatewayUnreachable => "gateway_unreachable",
            Condition::CpuAbove => "cpu_above",
            Condition::MemoryAbove => "memory_above",
            Condition::PlaintextSecret => "plaintext_secret",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// CPU and memory rules need a threshold.
    pub fn has_threshold(self) -> bool {
        matches!(self, Condition::CpuAbove | Condition::MemoryAbove)
    }

    /// Offline, CPU and memory rules hold for a duration.
    pub fn has_duration(self) -> bool {
        matches!(
            self,
            Condition::AgentOffline | Condition::CpuAbove | Condition::MemoryAbove
        )
    }

    /// A sentence for chat payloads.
    fn describe(self, rule: &Rule, value: Option<f64>) -> String {
        let mins = rule.for_secs / 60;
        match self {
            Condition::AgentOffline => format!("no heartbeat for {mins} min"),
            Condition::StatusError => "status error".into(),
            Condition::ConfigApplyFailed => "config apply failed".into(),
            Condition::GatewayUnreachable => "gateway unreachable".into(),
            Condition::CpuAbove | Condition::MemoryAbove => {
                let what = if self == Condition::CpuAbove {
                    "CPU"
                } else {
                    "memory"
                };
                match value {
                    Some(v) => format!("{what} {v:.1} % above {} % for {mins} min", rule.threshold),
                    None => format!("{what} above {} %", rule.threshold),
                }
            }
            Condition::PlaintextSecret => "agent secret sent in plaintext: rotate it".into(),
        }
    }
}

/// Where a rule's notices go and in which shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// The signed JSON payload (see docs/api.md).
    Generic,
    /// `{"text": …}` (Slack incoming webhooks and compatible).
    Slack,
    /// `{"content": …}` (Discord webhooks).
    Discord,
}

impl WebhookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Generic => "generic",
            WebhookKind::Slack => "slack",
            WebhookKind::Discord => "discord",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Generic, Self::Slack, Self::Discord]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An enabled rule as the evaluator and the sender hold it. The URL and signing secret
/// stay sealed until a notice is sent.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub owner_id: String,
    pub fleet_id: Option<String>,
    pub name: String,
    pub condition: Condition,
    pub threshold: f64,
    pub for_secs: i64,
    pub cooldown_secs: i64,
    pub kind: WebhookKind,
    pub host: String,
    pub url_sealed: String,
    pub secret_sealed: String,
}
