//! The agent's Ed25519 identity on the host (spec/SPEC-identity.md): the
//! key file `<state_dir>/.fleet-agent-identity-key`, made on first run with
//! mode 0600 through [`fsutil::create_new`] (which never replaces or follows
//! anything at that name), and the record of the last enrollment, so that a
//! restart signs with the key instead of presenting a spent token again. The
//! Python monitor uses the same two files in the same formats.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use openclaw_fleet_protocol::{AgentId, EnrollmentToken, IdentityKey};
use serde::{Deserialize, Serialize};

use crate::fsutil;

/// The identity key, `ocf_ik_…` and a newline, mode 0600.
pub const KEY_FILE: &str = ".fleet-agent-identity-key";
/// `{"schema": 1, "agent_id", "public_key", "token_sha256"}`, mode 0600.
pub const ENROLLMENT_FILE: &str = ".fleet-agent-enrollment.json";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity key file {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "identity key file {} is accessible to other users; restrict it with chmod 600",
        .0.display()
    )]
    Shared(PathBuf),
    #[error(
        "identity key file {} does not hold an ocf_ik_ key; remove it to make a new key pair \
         (and enroll it with a new enrollment token)",
        .0.display()
    )]
    Malformed(PathBuf),
}

/// The identity key in `state_dir`, made now when there is none; `true`
/// when it was made by this call.
pub fn load_or_create(state_dir: &Path) -> Result<(IdentityKey, bool), IdentityError> {
    let path = state_dir.join(KEY_FILE);
    let io_err = |source| IdentityError::Io {
        path: path.clone(),
        source,
    };
    // Twice: another process may create the file between our read and create.
    for _ in 0..2 {
        if let Some(key) = read_key(&path)? {
            return Ok((key, false));
        }
        let key = IdentityKey::generate();
        let mut text = key.to_encoded_secret();
        text.push('\n');
        fsutil::ensure_private_dir(state_dir).map_err(io_err)?;
        if fsutil::create_new(&path, text.as_bytes()).map_err(io_err)? {
            return Ok((key, true));
        }
    }
    Err(io_err(io::Error::other("keeps changing")))
}

fn read_key(path: &Path) -> Result<Option<IdentityKey>, IdentityError> {
    let Some(bytes) = fsutil::read_optional(path).map_err(|source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    })?
    else {
        return Ok(None);
    };
    let bytes = zeroize::Zeroizing::new(bytes);
    let mode = std::fs::symlink_metadata(path)
        .map_err(|source| IdentityError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(IdentityError::Shared(path.to_path_buf()));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| IdentityError::Malformed(path.into()))?;
    IdentityKey::parse(text.trim())
        .map(Some)
        .map_err(|_| IdentityError::Malformed(path.to_path_buf()))
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Enrollment {
    schema: u32,
    agent_id: String,
    public_key: String,
    token_sha256: String,
}

impl Enrollment {
    fn new(agent: &AgentId, public_key: &str, token: &EnrollmentToken) -> Self {
        Self {
            schema: 1,
            agent_id: agent.to_string(),
            public_key: public_key.to_owned(),
            token_sha256: token.hash(),
        }
    }
}

/// Whether `public_key` was enrolled for `agent` with `token` (by the record;
/// an unreadable record means no, and the agent enrolls again).
pub fn is_enrolled(
    state_dir: &Path,
    agent: &AgentId,
    public_key: &str,
    token: &EnrollmentToken,
) -> bool {
    let Ok(Some(bytes)) = fsutil::read_optional(&state_dir.join(ENROLLMENT_FILE)) else {
        return false;
    };
    serde_json::from_slice::<Enrollment>(&bytes)
        .is_ok_and(|record| record == Enrollment::new(agent, public_key, token))
}

/// Records a successful enrollment (the token's SHA-256 only: it is spent).
pub fn record_enrollment(
    state_dir: &Path,
    agent: &AgentId,
    public_key: &str,
    token: &EnrollmentToken,
) -> io::Result<()> {
    let record = Enrollment::new(agent, public_key, token);
    let mut text = serde_json::to_string_pretty(&record).map_err(io::Error::other)?;
    text.push('\n');
    fsutil::ensure_private_dir(state_dir)?;
    fsutil::write_atomic(&state_dir.join(ENROLLMENT_FILE), text.as_bytes())
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
