//! Applying one config envelope to the OpenClaw state directory (SPEC §4).
//! Checks run cheapest-first and before any file is touched: the envelope's
//! agent, rollback against the persisted version, authentication, document
//! rules. Only then are `.env` and `openclaw.json` rewritten (atomically),
//! checked by OpenClaw when it is installed, and restored on failure. A
//! refusal leaves every file as it was: the last good config stays.

pub mod env_file;
pub mod json_merge;
#[cfg(test)]
mod tests;
pub mod validate;
#[cfg(test)]
mod vectors;
mod write;

use std::io;
use std::path::{Path, PathBuf};

use openclaw_fleet_protocol::{AgentId, ConfigDocument, EncryptionSecret, Envelope};
use serde_json::Value;

use crate::state::{AgentState, StateError};
pub use validate::Validator;

pub const ENV_FILE: &str = ".env";
pub const OPENCLAW_JSON: &str = "openclaw.json";
pub const OPENCLAW_JSON_BACKUP: &str = "openclaw.json.bak";

/// What an accepted envelope did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new version was written; `changed` is false when the files already
    /// held exactly this content.
    Applied { version: u64, changed: bool },
    /// The envelope carries the version already applied: nothing to do.
    AlreadyApplied { version: u64 },
}

/// Why an envelope was refused. Messages name versions and files only.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("envelope is malformed: {0}")]
    Malformed(String),
    #[error("envelope is addressed to another agent")]
    WrongAgent,
    #[error("envelope version {offered} is older than the applied version {applied}")]
    Rollback { offered: u64, applied: u64 },
    #[error("envelope failed authentication (wrong encryption secret, or altered)")]
    AuthFailed,
    #[error("config document is invalid: {0}")]
    Invalid(String),
    #[error("{0}")]
    EnvFile(env_file::EnvFileError),
    #[error("{} cannot be read as JSON5 object: {reason}", .path.display())]
    LocalConfig { path: PathBuf, reason: String },
    #[error("{0}; the previous files were restored")]
    Validate(validate::ValidateError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot write {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl ApplyError {
    /// The short code reported in the next heartbeat's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::Invalid(_) => "config_invalid",
            Self::WrongAgent => "config_wrong_agent",
            Self::Rollback { .. } => "config_rollback",
            Self::AuthFailed => "config_auth_failed",
            Self::EnvFile(env_file::EnvFileError::Unrepresentable(_)) => "config_invalid",
            Self::EnvFile(_) => "env_file_corrupt",
            Self::LocalConfig { .. } => "openclaw_json_invalid",
            Self::Validate(_) => "config_validate_failed",
            Self::State(_) => "state_file_error",
            Self::Io { .. } => "config_write_failed",
        }
    }
}

/// Checks `envelope` for `agent` and, when it is new and sound, writes it
/// into `state_dir`.
pub fn apply_envelope(
    state_dir: &Path,
    envelope: &Value,
    agent: &AgentId,
    secret: &EncryptionSecret,
    validator: &Validator,
) -> Result<Outcome, ApplyError> {
    let envelope = Envelope::parse(envelope).map_err(|e| ApplyError::Malformed(e.to_string()))?;
    if envelope.agent_id != *agent {
        return Err(ApplyError::WrongAgent);
    }
    let state = AgentState::load(state_dir)?;
    let applied = state.applied_for(agent);
    if envelope.version < applied {
        return Err(ApplyError::Rollback {
            offered: envelope.version,
            applied,
        });
    }
    if envelope.version == applied {
        return Ok(Outcome::AlreadyApplied { version: applied });
    }
    let plaintext = envelope
        .open(secret, agent)
        .map_err(|_| ApplyError::AuthFailed)?;
    let doc = ConfigDocument::parse(&plaintext).map_err(|e| ApplyError::Invalid(e.to_string()))?;
    drop(plaintext);
    let changed = write::write_document(state_dir, &doc, &state, validator)?;
    AgentState {
        agent_id: Some(*agent),
        config_version_applied: envelope.version,
        managed_env: doc.env.keys().cloned().collect(),
        managed_openclaw: json_merge::leaf_paths(&doc.openclaw),
        ..state
    }
    .save(state_dir)?;
    Ok(Outcome::Applied {
        version: envelope.version,
        changed,
    })
}
