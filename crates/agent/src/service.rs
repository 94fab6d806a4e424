//! `install-service`: a systemd unit that runs `openclaw-fleet-agent run`,
//! and beside it an environment file (mode 0600) holding the settings as
//! they were given now. The unit itself holds no secret, so it may be
//! world-readable like every other unit.
//!
//! A system unit runs the agent as the owner of the OpenClaw state
//! directory (`User=`, `Group=`), never as root by default: files it writes
//! stay readable by OpenClaw, which runs as that user, and the agent can
//! write nowhere but that directory (`ProtectSystem=strict`,
//! `ReadWritePaths=`), with no way to gain privileges.

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
    #[error("cannot read the owner of {}: {source}", .path.display())]
    Owner {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Who the agent runs as: the owner of the state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    /// The user's and group's names, or their numbers when they have none.
    pub user: String,
    pub group: String,
}

/// The two files to write and what to tell the operator.
pub struct Plan {
    pub unit_path: PathBuf,
    pub unit: String,
    /// The state directory, created (owned by `run_as`) when missing: the
    /// unit's `ReadWritePaths=` must exist for the service to start.
    pub state_dir: PathBuf,
    /// None for a `--user` unit, which runs as the user anyway.
    pub run_as: Option<RunAs>,
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
        (settings::ENV_ENROLLMENT_TOKEN, &layered.enrollment_token),
        (settings::ENV_IDENTITY_KEY, &layered.identity_key),
        (settings::ENV_ENCRYPTION_SECRET, &layered.encryption_secret),
    ] {
        match source {
            Some(SecretSource::Value(v)) => put(name, v)?,
            Some(SecretSource::File(p)) => put(file_var(name), &absolute(p).to_string_lossy())?,
            // resolve() checked that the agent has an identity (an Ed25519
            // agent's key may be the file a run made); without an encryption
            // secret the agent runs monitor-only.
            None => {}
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
    if let Some(ca) = &resolved.ca_file {
        put(settings::ENV_CA_FILE, &absolute(ca).to_string_lossy())?;
    }

    let state_dir = absolute(&resolved.state_dir);
    let run_as = if args.user {
        None
    } else {
        Some(owner_of(&state_dir)?)
    };
    let unit = unit_text(args.user, &env_path, exe, &state_dir, run_as.as_ref());
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
        state_dir,
        run_as,
        env_path,
        env,
        next_steps,
    })
}

/// The unit. A system unit runs as `run_as` with the state directory as the
/// only writable path; a user unit runs as its user and gets only the
/// settings that need no privileges.
fn unit_text(
    user_unit: bool,
    env_path: &Path,
    exe: &Path,
    state_dir: &Path,
    run_as: Option<&RunAs>,
) -> String {
    let mut unit = String::from(
        "[Unit]\n\
         Description=OpenClaw Fleet agent\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n",
    );
    if let Some(who) = run_as {
        let _ = write!(unit, "User={}\nGroup={}\n", who.user, who.group);
    }
    let _ = write!(
        unit,
        "EnvironmentFile={env}\n\
         ExecStart={exe} run\n\
         Restart=always\n\
         RestartSec=5\n\
         UMask=0077\n\
         NoNewPrivileges=yes\n",
        env = systemd_quote(env_path),
        exe = systemd_quote(exe),
    );
    if !user_unit {
        // Everything but the state directory is read-only; the rest takes
        // away what an agent (and the validator or hook it runs) never needs.
        // MemoryDenyWriteExecute is left out: `openclaw` (Node.js) JIT-compiles.
        let _ = write!(
            unit,
            "ProtectSystem=strict\n\
             ReadWritePaths={state}\n\
             PrivateTmp=yes\n\
             PrivateDevices=yes\n\
             ProtectKernelTunables=yes\n\
             ProtectKernelModules=yes\n\
             ProtectKernelLogs=yes\n\
             ProtectControlGroups=yes\n\
             ProtectClock=yes\n\
             ProtectHostname=yes\n\
             RestrictSUIDSGID=yes\n\
             RestrictRealtime=yes\n\
             RestrictNamespaces=yes\n\
             LockPersonality=yes\n\
             SystemCallArchitectures=native\n\
             CapabilityBoundingSet=\n\
             RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n",
            state = systemd_quote(state_dir),
        );
    }
    let _ = write!(
        unit,
        "\n[Install]\nWantedBy={}\n",
        if user_unit {
            "default.target"
        } else {
            "multi-user.target"
        }
    );
    unit
}

/// The owner of `dir`, or of its nearest existing ancestor when it does not
/// exist yet (`~alice/.openclaw` before OpenClaw first ran: alice).
pub fn owner_of(dir: &Path) -> Result<RunAs, ServiceError> {
    use std::os::unix::fs::MetadataExt;
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let meta = std::fs::metadata(existing).map_err(|source| ServiceError::Owner {
        path: existing.to_path_buf(),
        source,
    })?;
    Ok(RunAs {
        uid: meta.uid(),
        gid: meta.gid(),
        user: user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string()),
        group: group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string()),
    })
}

/// A name systemd accepts in `User=` (else the caller uses the number).
fn valid_name(name: String) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 31
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.as_bytes()[0].is_ascii_digit();
    ok.then_some(name)
}

fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: getpwuid_r writes into `pwd` and `buf` (of the given length)
    // only, and sets `result` to null or to `&pwd`.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(pwd.pw_name)
            .to_string_lossy()
            .into_owned();
        valid_name(name)
    }
}

fn group_name(gid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: as in user_name, for getgrgid_r.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut result = std::ptr::null_mut();
        let rc = libc::getgrgid_r(
            gid,
            &mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(grp.gr_name)
            .to_string_lossy()
            .into_owned();
        valid_name(name)
    }
}

/// Writes the environment file (0600, in a 0700 directory when created)
/// and the unit (0644), and creates the state directory when missing.
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
    write(&plan.unit_path, plan.unit.as_bytes(), 0o644)?;
    // Run as root, ensure_private_dir gives what it creates to the parent's
    // owner: the state directory's owner-to-be.
    fsutil::ensure_private_dir(&plan.state_dir).map_err(|source| ServiceError::Write {
        path: plan.state_dir.clone(),
        source,
    })
}

fn file_var(name: &str) -> &'static str {
    match name {
        settings::ENV_AGENT_SECRET => "OPENCLAW_FLEET_AGENT_SECRET_FILE",
        settings::ENV_ENROLLMENT_TOKEN => "OPENCLAW_FLEET_ENROLLMENT_TOKEN_FILE",
        settings::ENV_IDENTITY_KEY => "OPENCLAW_FLEET_IDENTITY_KEY_FILE",
        _ => "OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE",
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
