//! The owner-editable fields of agents and fleets, parsed once at the edge: a display
//! name, a gateway URL and a policy profile. Creating and editing an object go through
//! the same parsers, so both accept exactly the same values, and every client (server,
//! operator CLI) shares them.

use std::fmt;

use crate::error::{ProtocolError, Result};
use crate::wire::{policy, Policy};

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_GATEWAY_URL_BYTES: usize = 500;

/// The name of an agent or a fleet: trimmed, 1 to 100 characters, no control
/// characters (it is shown in the dashboard and written to logs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub fn parse(text: &str) -> Result<Self> {
        let name = text.trim();
        let ok = !name.is_empty()
            && name.chars().count() <= MAX_NAME_CHARS
            && !name.chars().any(char::is_control);
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(ProtocolError::InvalidField(
                "name must be 1 to 100 characters, without control characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an agent reaches its OpenClaw gateway: an `http://` or `https://` URL of at
/// most 500 bytes, without whitespace or control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GatewayUrl(String);

impl GatewayUrl {
    pub fn parse(text: &str) -> Result<Self> {
        let scheme = text.starts_with("http://") || text.starts_with("https://");
        let plain = !text.chars().any(|c| c.is_control() || c.is_whitespace());
        if scheme && plain && text.len() <= MAX_GATEWAY_URL_BYTES {
            Ok(Self(text.to_owned()))
        } else {
            Err(ProtocolError::InvalidField(
                "gateway_url must be an http(s) URL",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One of the built-in policy profiles, with its policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyProfile(Policy);

impl PolicyProfile {
    pub fn parse(name: &str) -> Result<Self> {
        policy(name).map(Self).ok_or(ProtocolError::InvalidField(
            "policy_profile must be one of dev, ops, exec",
        ))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn policy(&self) -> &Policy {
        &self.0
    }

    /// Seconds between heartbeats under this profile.
    pub fn heartbeat_interval(&self) -> u64 {
        self.0.heartbeat_interval
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for GatewayUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
