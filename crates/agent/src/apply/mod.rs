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

use std::io;
use std::path::{Path, PathBuf};

use openclaw_fleet_protocol::{AgentId, ConfigDocument, EncryptionSecret, Envelope};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::fsutil;
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
    let changed = write_document(state_dir, &doc, &state, validator)?;
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

/// One file's content before and after, kept to restore on a failed check.
struct Rewrite {
    path: PathBuf,
    before: Option<Zeroizing<Vec<u8>>>,
    after: Zeroizing<Vec<u8>>,
}

/// Writes `.env` and `openclaw.json` for `doc`; true when either changed.
fn write_document(
    dir: &Path,
    doc: &ConfigDocument,
    state: &AgentState,
    validator: &Validator,
) -> Result<bool, ApplyError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ApplyError::Io { path, source }
    };
    fsutil::ensure_private_dir(dir).map_err(io_err(dir))?;
    let mut rewrites = Vec::new();
    if let Some(r) = env_rewrite(dir, doc)? {
        rewrites.push(r);
    }
    if let Some(r) = json_rewrite(dir, doc, state)? {
        if let Some(before) = &r.before {
            let backup = dir.join(OPENCLAW_JSON_BACKUP);
            fsutil::write_atomic(&backup, before).map_err(io_err(&backup))?;
        }
        rewrites.push(r);
    }
    for (i, r) in rewrites.iter().enumerate() {
        if let Err(source) = fsutil::write_atomic(&r.path, &r.after) {
            restore(&rewrites[..i]);
            return Err(ApplyError::Io {
                path: r.path.clone(),
                source,
            });
        }
    }
    if !rewrites.is_empty() {
        if let Err(e) = validator.run(dir) {
            restore(&rewrites);
            return Err(ApplyError::Validate(e));
        }
    }
    Ok(!rewrites.is_empty())
}

fn restore(done: &[Rewrite]) {
    for r in done.iter().rev() {
        let result = match &r.before {
            Some(before) => fsutil::write_atomic(&r.path, before),
            None => std::fs::remove_file(&r.path),
        };
        if let Err(e) = result {
            tracing::error!(file = %r.path.display(), error = %e, "could not restore file");
        }
    }
}

fn env_rewrite(dir: &Path, doc: &ConfigDocument) -> Result<Option<Rewrite>, ApplyError> {
    let path = dir.join(ENV_FILE);
    let before = read_private(&path)?;
    let text = match &before {
        Some(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| ApplyError::EnvFile(env_file::EnvFileError::NotUtf8))?,
        None => "",
    };
    let rendered = env_file::render(text, &doc.env).map_err(ApplyError::EnvFile)?;
    let after = Zeroizing::new(rendered.as_bytes().to_vec());
    let unchanged = match &before {
        Some(b) => b.as_slice() == after.as_slice(),
        None => doc.env.is_empty(),
    };
    Ok((!unchanged).then_some(Rewrite {
        path,
        before,
        after,
    }))
}

fn json_rewrite(
    dir: &Path,
    doc: &ConfigDocument,
    state: &AgentState,
) -> Result<Option<Rewrite>, ApplyError> {
    let path = dir.join(OPENCLAW_JSON);
    let before = read_private(&path)?;
    let local_err = |reason: &str| ApplyError::LocalConfig {
        path: path.clone(),
        reason: reason.to_owned(),
    };
    let mut current = Scrubbed(match &before {
        None => Map::new(),
        Some(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| local_err("not UTF-8"))?;
            match json5::from_str::<Value>(text) {
                Ok(Value::Object(map)) => map,
                Ok(mut other) => {
                    zeroize_value(&mut other);
                    return Err(local_err("the top level is not an object"));
                }
                Err(_) => return Err(local_err("syntax error")),
            }
        }
    });
    let original = Scrubbed(current.0.clone());
    json_merge::apply_fragment(&mut current.0, &doc.openclaw, &state.managed_openclaw);
    if current.0 == original.0 && (before.is_some() || current.0.is_empty()) {
        return Ok(None);
    }
    let mut after = Zeroizing::new(
        serde_json::to_vec_pretty(&current.0).expect("a JSON map always serializes"),
    );
    after.push(b'\n');
    Ok(Some(Rewrite {
        path,
        before,
        after,
    }))
}

/// A JSON map read from `openclaw.json`, whose strings (tokens, keys) are
/// wiped when it is dropped.
struct Scrubbed(Map<String, Value>);

impl Drop for Scrubbed {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            zeroize_value(value);
        }
    }
}

fn zeroize_value(value: &mut Value) {
    use zeroize::Zeroize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => s.zeroize(),
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
}

fn read_private(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, ApplyError> {
    fsutil::read_optional(path)
        .map(|b| b.map(Zeroizing::new))
        .map_err(|source| ApplyError::Io {
            path: path.to_path_buf(),
            source,
        })
}
