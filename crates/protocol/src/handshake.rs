//! The agent handshake of SPEC §2: timestamp canonicalisation, the HMAC
//! signature, and strict parsing of the request body (HMAC, or Ed25519 with
//! `alg: "ed25519"` per SPEC-identity), including the refusal of bodies that
//! carry a secret in plaintext.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::error::{ProtocolError, Result};
use crate::identity::{self, PublicKey, ED25519_ALG, IDENTITY_KEY_PREFIX};
use crate::ids::AgentId;
use crate::secrets::{AgentSecret, AGENT_SECRET_PREFIX, ENCRYPTION_SECRET_PREFIX};

type HmacSha256 = Hmac<Sha256>;

const MAX_TS_DIGITS: usize = 19;
const SECRET_KEYS: [&str; 4] = [
    "agent_secret",
    "secret",
    "encryption_secret",
    "identity_key",
];
const SECRET_PREFIXES: [&str; 3] = [
    AGENT_SECRET_PREFIX,
    ENCRYPTION_SECRET_PREFIX,
    IDENTITY_KEY_PREFIX,
];

/// Accepts unix seconds as a JSON string of 1–19 ASCII digits or a
/// non-negative JSON integer; returns the value and its canonical text
/// (no sign, no leading zeros), which is what gets signed.
pub fn canonical_timestamp(v: &Value) -> Result<(u64, String)> {
    let value = match v {
        Value::String(s) => {
            if s.is_empty() || s.len() > MAX_TS_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ProtocolError::InvalidTimestamp);
            }
            s.parse::<u64>()
                .map_err(|_| ProtocolError::InvalidTimestamp)?
        }
        Value::Number(n) => n.as_u64().ok_or(ProtocolError::InvalidTimestamp)?,
        _ => return Err(ProtocolError::InvalidTimestamp),
    };
    Ok((value, value.to_string()))
}

fn mac(agent_id: &str, ts_canonical: &str, secret: &AgentSecret) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(agent_id.as_bytes());
    mac.update(ts_canonical.as_bytes());
    mac
}

/// `hex(HMAC-SHA256(key = utf8(secret), msg = utf8(agent_id) || utf8(ts)))`.
pub fn sign(agent_id: &str, ts_canonical: &str, secret: &AgentSecret) -> String {
    hex::encode(mac(agent_id, ts_canonical, secret).finalize().into_bytes())
}

/// True when `signature` is 64 lowercase hex characters and matches in
/// constant time. The HMAC is computed even for a malformed signature, so
/// the time taken does not tell a bad format from a bad value.
pub fn verify(agent_id: &str, ts_canonical: &str, secret: &AgentSecret, signature: &str) -> bool {
    let mac = mac(agent_id, ts_canonical, secret);
    let mut expected = [0u8; 32];
    let well_formed =
        is_lower_hex_64(signature) && hex::decode_to_slice(signature, &mut expected).is_ok();
    let matches = mac.verify_slice(&expected).is_ok();
    well_formed & matches
}

pub(crate) fn is_lower_hex_64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How a handshake is signed: the body's `alg` (absent means HMAC).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeAlg {
    /// SPEC §2: hex HMAC-SHA256 under the agent secret.
    Hmac,
    /// SPEC-identity: base64url Ed25519 under the agent's identity key.
    Ed25519,
}

impl HandshakeAlg {
    /// The identity-type name, as stored and shown (`hmac` | `ed25519`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Hmac => "hmac",
            Self::Ed25519 => ED25519_ALG,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Hmac, Self::Ed25519]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// A well-formed handshake body. The signature is not yet verified; its text
/// is in the one accepted form of its `alg` (64 lowercase hex characters for
/// HMAC, base64url of 64 bytes for Ed25519), so it keys the single-use record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeRequest {
    pub agent_id: AgentId,
    pub timestamp: u64,
    pub timestamp_text: String,
    pub alg: HandshakeAlg,
    pub signature: String,
}

/// Why a handshake body was refused before any lookup.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeRejection {
    /// The body carries a secret in plaintext (400 `plaintext_secret_rejected`).
    #[error("the request carries a secret in plaintext")]
    PlaintextSecret,
    /// Malformed body (400 `invalid_request`); the text names the field.
    #[error("{0}")]
    Invalid(String),
}

/// True when any key (at any depth) names a secret, or any string value
/// holds an `ocf_as_`/`ocf_es_` secret or an `ocf_ik_` identity key. Iterative, so depth is not a risk.
pub(crate) fn carries_plaintext_secret(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if SECRET_PREFIXES.iter().any(|p| s.contains(p)) => {
                return true;
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (k, item) in map {
                    if SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                        return true;
                    }
                    stack.push(item);
                }
            }
            _ => {}
        }
    }
    false
}

impl HandshakeRequest {
    pub fn parse(body: &Value) -> std::result::Result<Self, HandshakeRejection> {
        let invalid = |msg: &str| HandshakeRejection::Invalid(msg.to_owned());
        if carries_plaintext_secret(body) {
            return Err(HandshakeRejection::PlaintextSecret);
        }
        let obj = body
            .as_object()
            .ok_or_else(|| invalid("body must be a JSON object"))?;
        let agent_id = obj
            .get("agent_id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`agent_id` is required and must be a string"))
            .and_then(|s| {
                AgentId::parse(s).map_err(|_| invalid("`agent_id` must be a lowercase UUID"))
            })?;
        let ts = obj
            .get("timestamp")
            .ok_or_else(|| invalid("`timestamp` is required"))?;
        let (timestamp, timestamp_text) = canonical_timestamp(ts)
            .map_err(|_| invalid("`timestamp` must be unix seconds (digits or integer)"))?;
        let alg = match obj.get("alg") {
            None => HandshakeAlg::Hmac,
            Some(v) => v.as_str().and_then(HandshakeAlg::parse).ok_or_else(|| {
                invalid("`alg` must be \"ed25519\" or \"hmac\" (absent means hmac)")
            })?,
        };
        let signature = obj.get("signature").and_then(Value::as_str);
        let signature = match alg {
            HandshakeAlg::Hmac => signature
                .filter(|s| is_lower_hex_64(s))
                .ok_or_else(|| invalid("`signature` must be 64 lowercase hex characters"))?,
            HandshakeAlg::Ed25519 => signature
                .filter(|s| identity::is_signature_text(s))
                .ok_or_else(|| invalid("`signature` must be base64url (no padding) of 64 bytes"))?,
        };
        Ok(Self {
            agent_id,
            timestamp,
            timestamp_text,
            alg,
            signature: signature.to_owned(),
        })
    }

    /// Constant-time check of this request's signature under `secret`.
    /// False for an Ed25519 request (its signature is never an HMAC).
    pub fn verify(&self, secret: &AgentSecret) -> bool {
        verify(
            &self.agent_id.to_string(),
            &self.timestamp_text,
            secret,
            &self.signature,
        ) && self.alg == HandshakeAlg::Hmac
    }

    /// Strict Ed25519 check of this request's signature under `key`. False
    /// for an HMAC request.
    pub fn verify_ed25519(&self, key: &PublicKey) -> bool {
        let message = identity::handshake_message(&self.agent_id.to_string(), &self.timestamp_text);
        key.verify_text(&message, &self.signature) && self.alg == HandshakeAlg::Ed25519
    }
}

/// The body an agent posts to `/api/agents/handshake` (timestamp as a string).
pub fn handshake_body(agent_id: &AgentId, now_unix: u64, secret: &AgentSecret) -> Value {
    let id = agent_id.to_string();
    let ts = now_unix.to_string();
    let signature = sign(&id, &ts, secret);
    json!({ "agent_id": id, "timestamp": ts, "signature": signature })
}
