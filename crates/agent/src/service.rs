//! `install-service`: a systemd unit that runs `openclaw-fleet-agent run`,
//! and beside it an environment file (mode 0600) holding the settings as
//! they were given now. The unit itself holds no secret, so it may be
//! world-readable like every other unit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cli::InstallArgs;
use crate::fsutil;
use crate::settings::{self, Layered, SecretSource, SettingsError};

pub const UNIT_NAME: &str = "openclaw-fleet-agent";

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("{0} contains a line break and cannot go into an environment file")]
    Multiline(&'static str),
    #[error("HOME is not set; pass --unit-path and --env-file")]
    NoHome,
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The two files to write and what to tell the operator.
pub struct Plan {
    pub unit_path: PathBuf,
    pub unit: String,
    pub env_path: PathBuf,
    pub env: Zeroizing<String>,
    pub next_steps: String,
}

/// Checks that the given settings would start an agent, then lays out the
/// unit and environment file for `exe`.
pub fn plan(
    args: &InstallArgs,
    layered: &Layered,
    exe: &Path,
    home: Option<&Path>,
) -> Result<Plan, ServiceError> {
    let resolved = layered.resolve()?;
    let home = || home.ok_or(ServiceError::NoHome);
    let unit_path = match (&args.unit_path, args.user) {
        (Some(p), _) => absolute(p),
        (None, true) => home()?
            .join(".config/systemd/user")
            .join(format!("{UNIT_NAME}.service")),
        (None, false) => PathBuf::from(format!("/etc/systemd/system/{UNIT_NAME}.service")),
    };
    let env_path = match (&args.env_file, args.user) {
        (Some(p), _) => absolute(p),
        (None, true) => home()?.join(".config/openclaw-fleet/agent.env"),
        (None, false) => PathBuf::from("/etc/openclaw-fleet/agent.env"),
    };

    let mut env = Zeroizing::new(String::from(
        "# OpenClaw Fleet agent settings, written by `openclaw-fleet-agent install-service`.\n",
    ));
    let mut put = |name: &'static str, value: &str| -> Result<(), ServiceError> {
        if value.contains(['\n', '\r']) {
            return Err(ServiceError::Multiline(name));
        }
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(env, "{name}=\"{escaped}\"");
        Ok(())
    };
    put(settings::ENV_URL, resolved.url.as_str())?;
    put(settings::ENV_AGENT_ID, &resolved.agent_id.to_string())?;
    for (name, source) in [
        (settings::ENV_AGENT_SECRET, &layered.agent_secret),
        (settings::ENV_ENCRYPTION_SECRET, &layered.encryption_secret),
    ] {
        match source {
            Some(SecretSource::Value(v)) => put(name, v)?,
            Some(SecretSource::File(p)) => put(file_var(name), &absolute(p).to_string_lossy())?,
            None => unreachable!("resolve() checked that both secrets are set"),
        }
    }
    put(
        settings::ENV_STATE_DIR,
        &absolute(&resolved.state_dir).to_string_lossy(),
    )?;
    put(settings::ENV_GATEWAY_URL, resolved.gateway_url.as_str())?;
    if let Some(cmd) = &resolved.on_change {
        put(settings::ENV_ON_CHANGE, cmd)?;
    }
    if resolved.max_clock_correction != settings::DEFAULT_MAX_CLOCK_CORRECTION {
        put(
            settings::ENV_MAX_CLOCK_CORRECTION,
            &resolved.max_clock_correction.to_string(),
        )?;
    }

    let unit = format!(
        "[Unit]\n\
         Description=OpenClaw Fleet agent\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         EnvironmentFile={env}\n\
         ExecStart={exe} run\n\
         Restart=always\n\
         RestartSec=5\n\
         UMask=0077\n\
         \n\
         [Install]\n\
         WantedBy={target}\n",
        env = systemd_quote(&env_path),
        exe = systemd_quote(exe),
        target = if args.user {
            "default.target"
        } else {
            "multi-user.target"
        },
    );
    let name = unit_path
        .file_stem()
        .map_or(UNIT_NAME.into(), |s| s.to_string_lossy().into_owned());
    let next_steps = if args.user {
        format!(
            "systemctl --user daemon-reload && systemctl --user enable --now {name}\n\
             (to keep it running after logout: loginctl enable-linger \"$USER\")"
        )
    } else {
        format!("systemctl daemon-reload && systemctl enable --now {name}")
    };
    Ok(Plan {
        unit_path,
        unit,
        env_path,
        env,
        next_steps,
    })
}

/// Writes the environment file (0600, in a 0700 directory when created)
/// and the unit (0644).
pub fn install(plan: &Plan) -> Result<(), ServiceError> {
    let write = |path: &Path, bytes: &[u8], mode: u32| {
        let dir = path.parent().unwrap_or(Path::new("."));
        fsutil::ensure_private_dir(dir)
            .and_then(|()| fsutil::write_atomic_mode(path, bytes, mode))
            .map_err(|source| ServiceError::Write {
                path: path.to_path_buf(),
                source,
            })
    };
    write(
        &plan.env_path,
        plan.env.as_bytes(),
        fsutil::PRIVATE_FILE_MODE,
    )?;
    write(&plan.unit_path, plan.unit.as_bytes(), 0o644)
}

fn file_var(name: &str) -> &'static str {
    if name == settings::ENV_AGENT_SECRET {
        "OPENCLAW_FLEET_AGENT_SECRET_FILE"
    } else {
        "OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE"
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p))
    }
}

/// A path as one systemd word: `%` doubled (specifiers), quoted when it
/// holds whitespace or quotes.
fn systemd_quote(p: &Path) -> String {
    let s = p.to_string_lossy().replace('%', "%%");
    if s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '\'') {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_paths_for_systemd() {
        assert_eq!(systemd_quote(Path::new("/usr/bin/a")), "/usr/bin/a");
        assert_eq!(
            systemd_quote(Path::new("/opt/my dir/50%")),
            "\"/opt/my dir/50%%\""
        );
    }
}
