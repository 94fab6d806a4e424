//! The `--on-change` hook: a shell command run after an applied config
//! changed a file, typically to restart the OpenClaw gateway. It gets the
//! applied version and the state directory, never the agent's secrets.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::settings::SECRET_ENV_VARS;

const TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `sh -c cmd` and waits for it (at most five minutes); failures are
/// logged, not returned: the config is applied either way.
pub async fn on_change(cmd: &str, state_dir: &Path, version: u64) {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .env("OPENCLAW_STATE_DIR", state_dir)
        .env("OPENCLAW_FLEET_CONFIG_VERSION", version.to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for var in SECRET_ENV_VARS {
        command.env_remove(var);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the on-change command");
            return;
        }
    };
    match tokio::time::timeout(TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => {
            tracing::info!(config_version = version, "on-change command succeeded");
        }
        Ok(Ok(status)) => {
            tracing::warn!(config_version = version, %status, "on-change command failed");
        }
        Ok(Err(e)) => tracing::error!(error = %e, "on-change command could not be awaited"),
        Err(_) => {
            let _ = child.kill().await;
            tracing::warn!("on-change command timed out after 5 minutes and was killed");
        }
    }
}
