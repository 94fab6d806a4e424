//! The agent's memory across restarts, `<state_dir>/.fleet-agent-state.json`:
//! the config version it last applied (so a server replaying an older
//! envelope is caught as a rollback even after a restart) and the `openclaw`
//! keys it manages (so they can be removed when a later version drops them).
//! It holds names and numbers only, never a value from a config. The Python
//! monitor reads and writes the same file in the same format, so switching
//! between the two keeps the rollback floor; the monitor's former file,
//! `.fleet-monitor-state.json`, is read when the shared one does not exist
//! yet and removed once the shared one is written.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use openclaw_fleet_protocol::AgentId;
use serde::{Deserialize, Serialize};

use crate::apply::json_merge::KeyPath;
use crate::fsutil;

pub const STATE_FILE: &str = ".fleet-agent-state.json";
/// The Python monitor's state file before both agents shared [`STATE_FILE`].
pub const LEGACY_MONITOR_STATE_FILE: &str = ".fleet-monitor-state.json";
const SCHEMA: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a valid agent state file (fix or remove it): {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentState {
    pub schema: u32,
    /// The agent the version below belongs to.
    pub agent_id: Option<AgentId>,
    pub config_version_applied: u64,
    /// Names of the variables in the managed block of `.env`.
    #[serde(default)]
    pub managed_env: BTreeSet<String>,
    /// Leaf paths of `openclaw.json` set by the applied config.
    #[serde(default)]
    pub managed_openclaw: BTreeSet<KeyPath>,
}

impl AgentState {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE)
    }

    /// The saved state, else the monitor's former state, else an empty one.
    pub fn load(state_dir: &Path) -> Result<Self, StateError> {
        let path = Self::path(state_dir);
        let Some(bytes) = read(&path)? else {
            return Self::load_legacy(state_dir);
        };
        let state: Self = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if state.schema != SCHEMA {
            return Err(StateError::Corrupt {
                path,
                reason: format!("unsupported schema {}", state.schema),
            });
        }
        Ok(state)
    }

    /// `{"agent_id", "config_version_applied", "openclaw_paths"}` as the
    /// monitor wrote it before the shared file.
    fn load_legacy(state_dir: &Path) -> Result<Self, StateError> {
        #[derive(Deserialize)]
        struct Legacy {
            agent_id: Option<AgentId>,
            #[serde(default)]
            config_version_applied: u64,
            #[serde(default)]
            openclaw_paths: BTreeSet<KeyPath>,
        }
        let path = state_dir.join(LEGACY_MONITOR_STATE_FILE);
        let Some(bytes) = read(&path)? else {
            return Ok(Self::default());
        };
        let legacy: Legacy = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path,
            reason: e.to_string(),
        })?;
        Ok(Self {
            schema: SCHEMA,
            agent_id: legacy.agent_id,
            config_version_applied: legacy.config_version_applied,
            managed_env: BTreeSet::new(),
            managed_openclaw: legacy
                .openclaw_paths
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect(),
        })
    }

    /// Writes the shared file, then removes the monitor's former one (whose
    /// floor the shared file now carries).
    pub fn save(&self, state_dir: &Path) -> Result<(), StateError> {
        let path = Self::path(state_dir);
        let mut out = self.clone();
        out.schema = SCHEMA;
        let mut bytes = serde_json::to_vec_pretty(&out).expect("state always serializes");
        bytes.push(b'\n');
        fsutil::write_atomic(&path, &bytes).map_err(|source| StateError::Write { path, source })?;
        let legacy = state_dir.join(LEGACY_MONITOR_STATE_FILE);
        match std::fs::remove_file(&legacy) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StateError::Write {
                path: legacy,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// The version applied for `agent`: a state left by another agent id on
    /// this host does not hold the new agent back.
    pub fn applied_for(&self, agent: &AgentId) -> u64 {
        if self.agent_id.as_ref() == Some(agent) {
            self.config_version_applied
        } else {
            0
        }
    }
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    fsutil::read_optional(path).map_err(|source| StateError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(AgentState::load(dir.path()).unwrap(), AgentState::default());
        let agent = AgentId::new_v4();
        let state = AgentState {
            schema: SCHEMA,
            agent_id: Some(agent),
            config_version_applied: 7,
            managed_env: ["A".to_string()].into_iter().collect(),
            managed_openclaw: [vec!["gateway".to_string(), "port".to_string()]]
                .into_iter()
                .collect(),
        };
        state.save(dir.path()).unwrap();
        let loaded = AgentState::load(dir.path()).unwrap();
        assert_eq!(loaded, state);
        assert_eq!(loaded.applied_for(&agent), 7);
        assert_eq!(loaded.applied_for(&AgentId::new_v4()), 0);
        let mode = std::fs::metadata(AgentState::path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn refuses_a_corrupt_file_instead_of_forgetting_the_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(AgentState::path(dir.path()), b"{\"schema\":1,").unwrap();
        assert!(matches!(
            AgentState::load(dir.path()),
            Err(StateError::Corrupt { .. })
        ));
    }
}
