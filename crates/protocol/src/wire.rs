//! Agent-side wire types of SPEC §2–3: the heartbeat request (parsed
//! strictly, since its fields reach the dashboard and the database), the
//! server's answers, and the built-in policy profiles.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ProtocolError, Result};
use crate::identity::{ENROLLMENT_TOKEN_PREFIX, IDENTITY_KEY_PREFIX};
use crate::ids::AgentId;
use crate::secrets::{AGENT_SECRET_PREFIX, ENCRYPTION_SECRET_PREFIX};

pub const KNOWN_METRICS: [&str; 6] = [
    "cpu_usage",
    "memory_usage",
    "disk_usage",
    "uptime_hours",
    "latency_ms",
    "load_avg",
];
pub const MAX_EXTRA_METRICS: usize = 32;
pub const MAX_METRIC_NAME: usize = 64;
pub const MAX_TEXT_CHARS: usize = 200;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Healthy,
    Idle,
    Error,
}

impl AgentStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Idle => "idle",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Healthy, Self::Idle, Self::Error]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an agent can receive configs: `not_set_up` when it runs
/// monitor-only (no `ENCRYPTION_SECRET`, or no way to decrypt), so the
/// dashboard can say "config delivery not set up". An optional heartbeat
/// field added after SPEC v1 (docs/security.md, "Readings of the SPEC").
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigDelivery {
    Ready,
    NotSetUp,
}

impl ConfigDelivery {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::NotSetUp => "not_set_up",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ready, Self::NotSetUp]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// `POST /api/heartbeat` body. Unknown fields are ignored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeartbeatRequest {
    pub agent_id: AgentId,
    pub status: AgentStatus,
    pub metrics: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_version_applied: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Absent from older agents; a value this server does not know is
    /// ignored like an unknown field, so newer agents keep heartbeating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_delivery: Option<ConfigDelivery>,
}

fn bad(msg: String) -> ProtocolError {
    ProtocolError::InvalidRequest(msg)
}

fn valid_metric_name(name: &str) -> bool {
    (1..=MAX_METRIC_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn parse_metrics(value: Option<&Value>) -> Result<BTreeMap<String, f64>> {
    let bad_metric = |msg: String| ProtocolError::InvalidMetrics(msg);
    let obj = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(obj)) => obj,
        Some(_) => return Err(bad_metric("`metrics` must be an object".into())),
    };
    let mut out = BTreeMap::new();
    let mut extra = 0usize;
    for (name, value) in obj {
        if !valid_metric_name(name) {
            return Err(bad_metric(
                "metric names are 1-64 characters of a-z, 0-9, _".into(),
            ));
        }
        let n = value
            .as_f64()
            .filter(|n| n.is_finite())
            .ok_or_else(|| bad_metric(format!("`{name}` must be a number")))?;
        if n < 0.0 {
            return Err(bad_metric(format!("`{name}` must not be negative")));
        }
        if (name.ends_with("_usage") || name.ends_with("_percent")) && n > 100.0 {
            return Err(bad_metric(format!("`{name}` is a percentage: at most 100")));
        }
        if !KNOWN_METRICS.contains(&name.as_str()) {
            extra += 1;
            if extra > MAX_EXTRA_METRICS {
                return Err(bad_metric("more than 32 custom metrics".into()));
            }
        }
        out.insert(name.clone(), n);
    }
    Ok(out)
}

fn opt_text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    let s = match obj.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad(format!("`{key}` must be a string"))),
    };
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(bad(format!("`{key}` is longer than 200 characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(bad(format!("`{key}` contains control characters")));
    }
    if [
        AGENT_SECRET_PREFIX,
        ENCRYPTION_SECRET_PREFIX,
        IDENTITY_KEY_PREFIX,
        ENROLLMENT_TOKEN_PREFIX,
    ]
    .iter()
    .any(|p| s.contains(p))
    {
        return Err(bad(format!("`{key}` looks like it carries a secret")));
    }
    Ok(Some(s.clone()))
}

impl HeartbeatRequest {
    pub fn parse(value: &Value) -> Result<Self> {
        let obj = value
            .as_object()
            .ok_or_else(|| bad("body must be a JSON object".into()))?;
        let agent_id = obj
            .get("agent_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`agent_id` is required and must be a string".into()))
            .and_then(AgentId::parse)?;
        let status = obj
            .get("status")
            .and_then(Value::as_str)
            .and_then(AgentStatus::parse)
            .ok_or_else(|| bad("`status` must be healthy, idle or error".into()))?;
        let config_version_applied = match obj.get("config_version_applied") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|v| *v <= crate::envelope::MAX_VERSION)
                    .ok_or_else(|| {
                        bad("`config_version_applied` must be an integer from 0 to 2^53-1".into())
                    })?,
            ),
        };
        Ok(Self {
            agent_id,
            status,
            metrics: parse_metrics(obj.get("metrics"))?,
            config_version_applied,
            version: opt_text(obj, "version")?,
            machine_id: opt_text(obj, "machine_id")?,
            location: opt_text(obj, "location")?,
            model: opt_text(obj, "model")?,
            error: opt_text(obj, "error")?,
            config_delivery: match obj.get("config_delivery") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => ConfigDelivery::parse(s),
                Some(_) => return Err(bad("`config_delivery` must be a string".into())),
            },
        })
    }
}

/// A policy profile an agent is assigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub heartbeat_interval: u64,
    pub skills: Vec<String>,
    pub tools: Vec<String>,
    pub guardrails: Vec<String>,
}

pub const DEFAULT_POLICY: &str = "dev";

fn profile(name: &str, interval: u64, skills: &[&str], tools: &[&str], guards: &[&str]) -> Policy {
    let own = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
    Policy {
        name: name.to_owned(),
        heartbeat_interval: interval,
        skills: own(skills),
        tools: own(tools),
        guardrails: own(guards),
    }
}

pub fn builtin_policies() -> Vec<Policy> {
    vec![
        profile(
            "dev",
            30,
            &["coding", "code-review", "git", "docs-search"],
            &["shell", "filesystem", "git", "browser"],
            &["no-production-credentials", "confirm-destructive-commands"],
        ),
        profile(
            "ops",
            15,
            &["monitoring", "incident-response", "deploy", "log-analysis"],
            &["shell", "filesystem", "http", "kubectl"],
            &[
                "approval-for-deploys",
                "audit-every-command",
                "no-data-exfiltration",
            ],
        ),
        profile(
            "exec",
            60,
            &["email", "calendar", "summarize", "research"],
            &["browser", "email", "calendar"],
            &[
                "no-shell",
                "read-only-filesystem",
                "confirm-outbound-messages",
            ],
        ),
    ]
}

pub fn policy(name: &str) -> Option<Policy> {
    builtin_policies().into_iter().find(|p| p.name == name)
}

mod responses;
pub use responses::{ConfigResponse, HandshakeResponse, HeartbeatResponse};
