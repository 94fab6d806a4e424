//! The optional check of a written config by OpenClaw itself: when an
//! `openclaw` binary is on PATH the agent runs `openclaw config validate`
//! against the state directory and rolls back on failure. Its output may
//! quote config values, so it is discarded, never logged.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::settings::SECRET_ENV_VARS;

const TIMEOUT: Duration = Duration::from_secs(60);

/// How a written config is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validator {
    /// No `openclaw` binary: the written files are not checked.
    None,
    /// `<program> config validate`.
    Command(PathBuf),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidateError {
    #[error("`openclaw config validate` rejected the config ({0})")]
    Rejected(String),
    #[error("`openclaw config validate` could not run: {0}")]
    NotRun(String),
}

impl Validator {
    /// `openclaw` from PATH, looked up at each apply so that installing
    /// OpenClaw later is noticed without a restart.
    pub fn detect() -> Self {
        find_on_path("openclaw").map_or(Self::None, Self::Command)
    }

    pub fn run(&self, state_dir: &Path) -> Result<(), ValidateError> {
        let Self::Command(program) = self else {
            return Ok(());
        };
        let mut cmd = Command::new(program);
        cmd.args(["config", "validate"])
            .env("OPENCLAW_STATE_DIR", state_dir)
            .env("OPENCLAW_CONFIG_PATH", state_dir.join("openclaw.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for var in SECRET_ENV_VARS {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| ValidateError::NotRun(e.to_string()))?;
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(ValidateError::Rejected(status.to_string())),
                Ok(None) if started.elapsed() > TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ValidateError::NotRun("timed out".into()));
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(ValidateError::NotRun(e.to_string())),
            }
        }
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_the_program_and_reports_its_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Validator::Command(find_on_path("true").expect("`true` on PATH"));
        assert_eq!(ok.run(dir.path()), Ok(()));
        let rejecting = Validator::Command(find_on_path("false").expect("`false` on PATH"));
        assert!(matches!(
            rejecting.run(dir.path()),
            Err(ValidateError::Rejected(_))
        ));
        let missing = Validator::Command(dir.path().join("no-such-openclaw"));
        assert!(matches!(
            missing.run(dir.path()),
            Err(ValidateError::NotRun(_))
        ));
        assert_eq!(Validator::None.run(dir.path()), Ok(()));
    }
}
