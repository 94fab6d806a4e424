//! The two per-agent secrets of SPEC §1. `AgentSecret` keys the handshake
//! HMAC and is used as an opaque string; `EncryptionSecret` is 32 bytes of
//! key material for config envelopes. Neither implements Debug, Clone or
//! Serialize; both are zeroized on drop and reveal their content only
//! through an explicitly named method.

use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::b64u;
use crate::error::{ProtocolError, Result};

pub const AGENT_SECRET_PREFIX: &str = "ocf_as_";
pub const ENCRYPTION_SECRET_PREFIX: &str = "ocf_es_";
const ENCODED_LEN: usize = 7 + 43;
const MAX_OPAQUE_LEN: usize = 256;

fn random_32() -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    bytes
}

fn encode_with_prefix(prefix: &str, bytes: &[u8; 32]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(ENCODED_LEN));
    s.push_str(prefix);
    b64u::encode_into(bytes, &mut s);
    s
}

fn decode_32(rest: &str) -> Result<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(
        b64u::decode(rest).map_err(|_| ProtocolError::SecretFormat("not base64url"))?,
    );
    if bytes.len() != 32 {
        return Err(ProtocolError::SecretFormat(
            "must decode to exactly 32 bytes",
        ));
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&bytes);
    Ok(out)
}

/// `AGENT_SECRET`: the HMAC key of one agent is the UTF-8 of the whole string.
pub struct AgentSecret(Zeroizing<String>);

impl AgentSecret {
    /// `"ocf_as_" + b64u(32 CSPRNG bytes)`, as the server issues them.
    pub fn generate() -> Self {
        Self(encode_with_prefix(AGENT_SECRET_PREFIX, &random_32()))
    }

    /// Strict form: the `ocf_as_` prefix and exactly 32 encoded bytes.
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(AGENT_SECRET_PREFIX)
            .ok_or(ProtocolError::SecretFormat("missing ocf_as_ prefix"))?;
        decode_32(rest)?;
        Ok(Self(Zeroizing::new(s.to_owned())))
    }

    /// Any secret string a monitor may hold (SPEC §1 treats it as opaque):
    /// 1 to 256 bytes, no control characters.
    pub fn from_opaque(s: String) -> Result<Self> {
        let s = Zeroizing::new(s);
        if s.is_empty() {
            return Err(ProtocolError::SecretFormat("empty"));
        }
        if s.len() > MAX_OPAQUE_LEN {
            return Err(ProtocolError::SecretFormat("longer than 256 bytes"));
        }
        if s.chars().any(char::is_control) {
            return Err(ProtocolError::SecretFormat("contains control characters"));
        }
        Ok(Self(s))
    }

    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

/// `ENCRYPTION_SECRET`: 32 bytes, the input key material of every config key.
pub struct EncryptionSecret(Zeroizing<[u8; 32]>);

impl EncryptionSecret {
    pub fn generate() -> Self {
        Self(random_32())
    }

    /// The `ocf_es_` prefix is required and the rest must decode to exactly
    /// 32 bytes (SPEC §1).
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(ENCRYPTION_SECRET_PREFIX)
            .ok_or(ProtocolError::SecretFormat("missing ocf_es_ prefix"))?;
        decode_32(rest).map(Self)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let this = Self(Zeroizing::new(bytes));
        zeroize::Zeroize::zeroize(&mut bytes);
        this
    }

    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The `ocf_es_…` text form, for showing once or writing to the agent's
    /// secret file.
    pub fn to_encoded(&self) -> Zeroizing<String> {
        encode_with_prefix(ENCRYPTION_SECRET_PREFIX, &self.0)
    }
}
