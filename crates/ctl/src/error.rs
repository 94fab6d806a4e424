//! The one error type of the CLI library, and the exit code each kind of
//! failure maps to. Messages name agents, fleets, files and versions, never a
//! secret, a token, a passphrase or a config value, so every error can be
//! printed as it is.

use std::io;
use std::path::Path;

use openclaw_fleet_protocol::ProtocolError;

/// Exit codes a script can rely on (also listed in `--help`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const AUTH: i32 = 3;
    pub const NOT_FOUND: i32 = 4;
    pub const CONFLICT: i32 = 5;
    pub const REFUSED: i32 = 6;
    pub const UNAVAILABLE: i32 = 7;
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Bad arguments or input files.
    #[error("{0}")]
    Usage(String),
    #[error("not logged in: run `openclaw-fleet-ctl login --url URL --email EMAIL` first")]
    NotLoggedIn,
    /// The server no longer accepts the stored session.
    #[error("the session has ended (logged out, expired or revoked): run `openclaw-fleet-ctl login` again")]
    SessionEnded,
    /// Wrong password or master key, or an account-level refusal.
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    NotFound(String),
    /// A config save lost the race with another save (SPEC §4 version check).
    #[error("the config changed on the server meanwhile (stored version {})", .stored.map_or("unknown".into(), |v| v.to_string()))]
    VersionConflict { stored: Option<u64> },
    #[error("agent {0} has no encryption secret yet: run `openclaw-fleet-ctl agents setup-encryption {0} --secret-file FILE`, install the secret on the host, then try again")]
    NoEncryptionSecret(String),
    /// The state on the server does not allow the change (yet).
    #[error("{0}")]
    Conflict(String),
    /// Refused for safety: weak KDF parameters, a rollback, an altered blob.
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached or is failing.
    #[error("{0}")]
    Unavailable(String),
    /// Any other refusal by the server, with its code and message.
    #[error("the server refused the request ({status} {code}): {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    /// Some agents of a fleet-wide change failed (the details were printed).
    #[error("{0}")]
    Partial(String),
}

impl CtlError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::NotLoggedIn | Self::SessionEnded | Self::Auth(_) => exit::AUTH,
            Self::NotFound(_) => exit::NOT_FOUND,
            Self::Conflict(_) | Self::VersionConflict { .. } | Self::NoEncryptionSecret(_) => {
                exit::CONFLICT
            }
            Self::Refused(_) => exit::REFUSED,
            Self::Unavailable(_) => exit::UNAVAILABLE,
            Self::Api { .. } | Self::Io { .. } | Self::Partial(_) => exit::FAILED,
        }
    }

    pub fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }

    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub fn file(path: &Path, what: &str, source: io::Error) -> Self {
        Self::io(format!("cannot {what} {}", path.display()), source)
    }
}

/// Protocol refusals while editing are the operator's input; anything else
/// the protocol crate refuses came from the server and is treated as unsafe.
impl From<ProtocolError> for CtlError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::InvalidEdit(_) | ProtocolError::WeakPassphrase => {
                Self::Usage(e.to_string())
            }
            other => Self::Refused(other.to_string()),
        }
    }
}

pub type Result<T, E = CtlError> = std::result::Result<T, E>;
