//! Layered settings: defaults, then the TOML file, then environment
//! variables, then flags. Secrets come only from the environment or from
//! files, are held in the protocol's secret types from the moment they are
//! read, and the structs holding them implement neither Debug nor Clone.
//! The agent's identity is an HMAC secret or an Ed25519 key pair
//! ([`Credential`]); their settings exclude each other.

use std::path::{Path, PathBuf};

use openclaw_fleet_protocol::{
    AgentId, AgentSecret, EncryptionSecret, EnrollmentToken, IdentityKey,
};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::cli::SettingsArgs;

pub const DEFAULT_GATEWAY_URL: &str = "http://127.0.0.1:18789";
pub const ENV_URL: &str = "OPENCLAW_FLEET_URL";
pub const ENV_AGENT_ID: &str = "OPENCLAW_FLEET_AGENT_ID";
pub const ENV_AGENT_SECRET: &str = "OPENCLAW_FLEET_AGENT_SECRET";
pub const ENV_ENROLLMENT_TOKEN: &str = "OPENCLAW_FLEET_ENROLLMENT_TOKEN";
pub const ENV_IDENTITY_KEY: &str = "OPENCLAW_FLEET_IDENTITY_KEY";
pub const ENV_ENCRYPTION_SECRET: &str = "OPENCLAW_FLEET_ENCRYPTION_SECRET";
pub const ENV_STATE_DIR: &str = "OPENCLAW_STATE_DIR";
pub const ENV_GATEWAY_URL: &str = "OPENCLAW_GATEWAY_URL";
pub const ENV_ON_CHANGE: &str = "OPENCLAW_FLEET_ON_CHANGE";
pub const ENV_CONFIG: &str = "OPENCLAW_FLEET_AGENT_CONFIG";
pub const ENV_MAX_CLOCK_CORRECTION: &str = "OPENCLAW_FLEET_MAX_CLOCK_CORRECTION";
/// The largest clock skew adopted from an (unauthenticated) 401 `server_time`,
/// so an on-path attacker cannot make the agent sign handshakes for a time of
/// its choosing: ten minutes unless configured.
pub const DEFAULT_MAX_CLOCK_CORRECTION: u64 = 600;
/// Beyond a day the host's clock needs fixing, not correcting.
pub const MAX_CLOCK_CORRECTION_LIMIT: u64 = 86_400;
pub const ENV_CA_FILE: &str = "OPENCLAW_FLEET_CA_FILE";

/// Variables never passed on to a child process (validator, on-change hook).
pub const SECRET_ENV_VARS: [&str; 8] = [
    ENV_AGENT_SECRET,
    "OPENCLAW_FLEET_AGENT_SECRET_FILE",
    ENV_ENROLLMENT_TOKEN,
    "OPENCLAW_FLEET_ENROLLMENT_TOKEN_FILE",
    ENV_IDENTITY_KEY,
    "OPENCLAW_FLEET_IDENTITY_KEY_FILE",
    ENV_ENCRYPTION_SECRET,
    "OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE",
];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0} is not set (see --help)")]
    Missing(&'static str),
    #[error("{what} is invalid: {reason}")]
    Invalid { what: String, reason: String },
    #[error("set only one of {0} and {0}_FILE")]
    Ambiguous(&'static str),
    #[error(
        "{ENV_AGENT_SECRET} is for an HMAC agent, {ENV_ENROLLMENT_TOKEN} and {ENV_IDENTITY_KEY} \
         for an Ed25519 agent: set only those of this agent's kind"
    )]
    TwoIdentities,
    #[error(
        "{ENV_ENROLLMENT_TOKEN} (an Ed25519 agent) or {ENV_AGENT_SECRET} (an HMAC agent) is not \
         set, nor their _FILE variants (see --help)"
    )]
    NoIdentity,
    #[error("cannot read {}: {reason}", .path.display())]
    Read { path: PathBuf, reason: String },
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

/// The keys of the TOML file. Secrets may only be named by file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    url: Option<String>,
    agent_id: Option<String>,
    state_dir: Option<PathBuf>,
    gateway_url: Option<String>,
    on_change: Option<String>,
    max_clock_correction: Option<u64>,
    ca_file: Option<PathBuf>,
    agent_secret_file: Option<PathBuf>,
    enrollment_token_file: Option<PathBuf>,
    identity_key_file: Option<PathBuf>,
    encryption_secret_file: Option<PathBuf>,
}

/// Where a secret comes from; install-service writes it on as it was given.
pub enum SecretSource {
    Value(Zeroizing<String>),
    File(PathBuf),
}

impl SecretSource {
    fn read(&self) -> Result<Zeroizing<String>, SettingsError> {
        match self {
            Self::Value(v) => Ok(v.clone()),
            Self::File(path) => {
                warn_if_shared(path);
                let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Read {
                    path: path.clone(),
                    reason: e.kind().to_string(),
                })?;
                let text = Zeroizing::new(text);
                Ok(Zeroizing::new(text.trim().to_owned()))
            }
        }
    }
}

/// All layers merged, before the secrets are read and parsed.
pub struct Layered {
    pub config_file: Option<PathBuf>,
    pub url: Option<String>,
    pub agent_id: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub gateway_url: String,
    pub on_change: Option<String>,
    /// Seconds, as given (checked by `resolve`).
    pub max_clock_correction: Option<String>,
    /// PEM CA certificates trusted for the server, besides the operating system's.
    pub ca_file: Option<PathBuf>,
    pub agent_secret: Option<SecretSource>,
    pub enrollment_token: Option<SecretSource>,
    pub identity_key: Option<SecretSource>,
    pub encryption_secret: Option<SecretSource>,
}

/// How the agent proves who it is.
pub enum Credential {
    /// SPEC §2: the secret it shares with the server.
    Hmac(AgentSecret),
    /// spec/SPEC-identity.md: a key pair of this host, from `identity_key` or
    /// else the key file in the state directory (made on first run), enrolled
    /// with `enrollment_token` when one is given.
    Ed25519 {
        /// Boxed, like the loaded key: moved, a key stays in one place and is
        /// zeroized there.
        identity_key: Option<Box<IdentityKey>>,
        enrollment_token: Option<EnrollmentToken>,
    },
}

/// Everything `run` needs, parsed.
pub struct Settings {
    pub url: reqwest::Url,
    pub agent_id: AgentId,
    pub state_dir: PathBuf,
    pub gateway_url: reqwest::Url,
    pub on_change: Option<String>,
    /// Largest clock skew (seconds) corrected from the server's `server_time`.
    pub max_clock_correction: u64,
    pub ca_file: Option<PathBuf>,
    pub credential: Credential,
    /// None: monitor-only (handshakes and heartbeats; no config is fetched
    /// or applied), reported to the server as `config_delivery: not_set_up`.
    pub encryption_secret: Option<EncryptionSecret>,
}

impl Layered {
    /// Merges the layers; `env` reads one environment variable.
    pub fn gather(
        args: &SettingsArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let home = env("HOME").map(PathBuf::from);
        let expand = |p: PathBuf| expand_home(p, home.as_deref());
        let config_file = args
            .config
            .clone()
            .or_else(|| env(ENV_CONFIG).map(PathBuf::from));
        let file = match &config_file {
            Some(path) => read_toml(&expand(path.clone()))?,
            None => FileSettings::default(),
        };
        let secret = |name: &'static str, from_file: Option<PathBuf>| {
            let file_var = format!("{name}_FILE");
            match (env(name), env(&file_var)) {
                (Some(_), Some(_)) => Err(SettingsError::Ambiguous(name)),
                (Some(v), None) => Ok(Some(SecretSource::Value(Zeroizing::new(v)))),
                (None, Some(p)) => Ok(Some(SecretSource::File(expand(p.into())))),
                (None, None) => Ok(from_file.map(|p| SecretSource::File(expand(p)))),
            }
        };
        Ok(Self {
            url: args.url.clone().or(env(ENV_URL)).or(file.url),
            agent_id: args
                .agent_id
                .clone()
                .or(env(ENV_AGENT_ID))
                .or(file.agent_id),
            state_dir: args
                .state_dir
                .clone()
                .or(env(ENV_STATE_DIR).map(PathBuf::from))
                .or(file.state_dir)
                .or(home.as_ref().map(|h| h.join(".openclaw")))
                .map(expand),
            gateway_url: args
                .gateway_url
                .clone()
                .or(env(ENV_GATEWAY_URL))
                .or(file.gateway_url)
                .unwrap_or_else(|| DEFAULT_GATEWAY_URL.to_owned()),
            on_change: args
                .on_change
                .clone()
                .or(env(ENV_ON_CHANGE))
                .or(file.on_change),
            max_clock_correction: args
                .max_clock_correction
                .clone()
                .or(env(ENV_MAX_CLOCK_CORRECTION))
                .or(file.max_clock_correction.map(|n| n.to_string())),
            ca_file: args
                .ca_file
                .clone()
                .or(env(ENV_CA_FILE).map(PathBuf::from))
                .or(file.ca_file)
                .filter(|p| !p.as_os_str().is_empty())
                .map(expand),
            agent_secret: secret(ENV_AGENT_SECRET, file.agent_secret_file)?,
            enrollment_token: match (
                &args.enrollment_token_file,
                env(ENV_ENROLLMENT_TOKEN),
                env(&format!("{ENV_ENROLLMENT_TOKEN}_FILE")),
            ) {
                (Some(path), None, None) => Some(SecretSource::File(expand(path.clone()))),
                (Some(_), _, _) => return Err(SettingsError::Ambiguous(ENV_ENROLLMENT_TOKEN)),
                (None, _, _) => secret(ENV_ENROLLMENT_TOKEN, file.enrollment_token_file)?,
            },
            identity_key: secret(ENV_IDENTITY_KEY, file.identity_key_file)?,
            encryption_secret: secret(ENV_ENCRYPTION_SECRET, file.encryption_secret_file)?,
            config_file,
        })
    }

    /// Checks every setting and reads the secrets.
    pub fn resolve(&self) -> Result<Settings, SettingsError> {
        let url = parse_url(
            ENV_URL,
            self.url.as_deref().ok_or(SettingsError::Missing(ENV_URL))?,
        )?;
        let agent_id = self
            .agent_id
            .as_deref()
            .ok_or(SettingsError::Missing(ENV_AGENT_ID))?;
        let agent_id = AgentId::parse(agent_id.trim())
            .map_err(|_| invalid(ENV_AGENT_ID, "expected a lowercase hyphenated UUID"))?;
        let state_dir = self
            .state_dir
            .clone()
            .ok_or(SettingsError::Missing(ENV_STATE_DIR))?;
        let credential = self.credential(&state_dir)?;
        let encryption_secret = match &self.encryption_secret {
            None => None,
            Some(source) => Some(
                EncryptionSecret::parse(&source.read()?)
                    .map_err(|e| invalid(ENV_ENCRYPTION_SECRET, e.to_string()))?,
            ),
        };
        Ok(Settings {
            url,
            agent_id,
            state_dir,
            gateway_url: parse_url(ENV_GATEWAY_URL, &self.gateway_url)?,
            on_change: self.on_change.clone().filter(|c| !c.trim().is_empty()),
            max_clock_correction: self.max_clock_correction()?,
            ca_file: self.ca_file.clone(),
            credential,
            encryption_secret,
        })
    }
}

impl Layered {
    /// The HMAC secret, or the Ed25519 settings: a token or key given, or
    /// else (neither secret nor token) a key file left by an earlier run.
    fn credential(&self, state_dir: &Path) -> Result<Credential, SettingsError> {
        let ed25519_given = self.enrollment_token.is_some() || self.identity_key.is_some();
        if let Some(source) = &self.agent_secret {
            if ed25519_given {
                return Err(SettingsError::TwoIdentities);
            }
            let secret = AgentSecret::parse(&source.read()?)
                .map_err(|e| invalid(ENV_AGENT_SECRET, e.to_string()))?;
            return Ok(Credential::Hmac(secret));
        }
        let key_file = state_dir.join(crate::identity::KEY_FILE);
        if !ed25519_given && std::fs::symlink_metadata(key_file).is_err() {
            return Err(SettingsError::NoIdentity);
        }
        // The protocol's parse errors name the format, never the value.
        let enrollment_token = match &self.enrollment_token {
            None => None,
            Some(source) => Some(
                EnrollmentToken::parse(&source.read()?)
                    .map_err(|e| invalid(ENV_ENROLLMENT_TOKEN, e.to_string()))?,
            ),
        };
        let identity_key = match &self.identity_key {
            None => None,
            Some(source) => Some(Box::new(
                IdentityKey::parse(&source.read()?)
                    .map_err(|e| invalid(ENV_IDENTITY_KEY, e.to_string()))?,
            )),
        };
        Ok(Credential::Ed25519 {
            identity_key,
            enrollment_token,
        })
    }

    fn max_clock_correction(&self) -> Result<u64, SettingsError> {
        let Some(text) = self.max_clock_correction.as_deref() else {
            return Ok(DEFAULT_MAX_CLOCK_CORRECTION);
        };
        text.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_CLOCK_CORRECTION_LIMIT)
            .ok_or_else(|| {
                invalid(
                    ENV_MAX_CLOCK_CORRECTION,
                    format!("expected a number of seconds from 0 to {MAX_CLOCK_CORRECTION_LIMIT}"),
                )
            })
    }
}

fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                "secret file is readable by other users; restrict it with chmod 600"
            );
        }
    }
}

fn parse_url(what: &str, text: &str) -> Result<reqwest::Url, SettingsError> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| invalid(what, e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(what, "expected an http:// or https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(what, "credentials do not belong in the URL"));
    }
    Ok(url)
}

fn read_toml(path: &Path) -> Result<FileSettings, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Read {
        path: path.to_path_buf(),
        reason: e.kind().to_string(),
    })?;
    // The parser's Display quotes the offending line, which could be a
    // secret pasted in by mistake: report only its message and line number.
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map_or(0, |s| text[..s.start].matches('\n').count() + 1);
        invalid(
            path.display().to_string(),
            format!("line {line}: {}", e.message()),
        )
    })
}

fn expand_home(path: PathBuf, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path,
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
