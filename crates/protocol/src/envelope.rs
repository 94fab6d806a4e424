//! The config envelope of SPEC §4: what the browser uploads, the server
//! stores unchanged, and the agent decrypts. Parsing is strict (exact key
//! set) so that nothing can ride along with the ciphertext unauthenticated.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::b64u;
use crate::crypto;
use crate::error::{ProtocolError, Result};
use crate::ids::AgentId;
use crate::secrets::EncryptionSecret;

/// The largest `version` every party can represent exactly (JavaScript's
/// `Number.MAX_SAFE_INTEGER`).
pub const MAX_VERSION: u64 = (1 << 53) - 1;
pub(crate) const ALG: &str = "A256GCM";
const CONFIG_SALT: &[u8] = b"openclaw-fleet/config/v1";
const ENVELOPE_KEYS: [&str; 6] = ["v", "alg", "agent_id", "version", "iv", "ct"];

/// An AES-256-GCM config envelope (`v` is always 1, `alg` always A256GCM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub agent_id: AgentId,
    pub version: u64,
    pub iv: [u8; 12],
    pub ct: Vec<u8>,
}

/// `CK = HKDF(salt = "openclaw-fleet/config/v1", ikm = secret, info = agent_id)`:
/// binding the key to the agent id means one leaked config key opens the
/// configs of one agent only, even if an owner reused a secret.
pub fn config_key(secret: &EncryptionSecret, agent_id: &AgentId) -> Zeroizing<[u8; 32]> {
    crypto::hkdf32(
        CONFIG_SALT,
        secret.expose_bytes(),
        agent_id.to_string().as_bytes(),
    )
}

/// `"openclaw-fleet/config/v1|" + agent_id + "|" + version`: authenticates the
/// envelope's label, so it cannot be relabelled to another agent or replayed
/// under another version.
pub fn config_aad(agent_id: &AgentId, version: u64) -> String {
    format!("openclaw-fleet/config/v1|{agent_id}|{version}")
}

/// Checks `v`, `alg` and the exact key set shared by envelopes and sealed
/// blobs, in that order: a future `v` may carry other keys.
pub(crate) fn check_header<'a>(
    value: &'a Value,
    keys: &[&str],
    what: &str,
) -> Result<&'a Map<String, Value>> {
    let invalid = |msg: &str| ProtocolError::InvalidEnvelope(format!("{what}: {msg}"));
    let obj = value
        .as_object()
        .ok_or_else(|| invalid("not a JSON object"))?;
    match obj.get("v") {
        None => return Err(invalid("missing field `v`")),
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) if v.is_number() => return Err(ProtocolError::UnsupportedEnvelopeVersion),
        Some(_) => return Err(invalid("`v` must be an integer")),
    }
    match obj.get("alg") {
        None => return Err(invalid("missing field `alg`")),
        Some(Value::String(a)) if a == ALG => {}
        Some(Value::String(_)) => return Err(ProtocolError::UnsupportedAlgorithm),
        Some(_) => return Err(invalid("`alg` must be a string")),
    }
    if let Some(missing) = keys.iter().find(|k| !obj.contains_key(**k)) {
        return Err(invalid(&format!("missing field `{missing}`")));
    }
    if obj.len() != keys.len() {
        return Err(invalid("unexpected field"));
    }
    Ok(obj)
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ProtocolError::InvalidEnvelope(format!("{what}: `{key}` must be a string")))
}

pub(crate) fn parse_iv_ct(obj: &Map<String, Value>, what: &str) -> Result<([u8; 12], Vec<u8>)> {
    let iv = b64u::decode(str_field(obj, "iv", what)?)?;
    let iv: [u8; 12] = iv.try_into().map_err(|_| ProtocolError::IvLength)?;
    let ct = b64u::decode(str_field(obj, "ct", what)?)?;
    if ct.len() < crypto::TAG_LEN {
        return Err(ProtocolError::CiphertextTooShort);
    }
    Ok((iv, ct))
}

fn check_version(version: u64) -> Result<u64> {
    if (1..=MAX_VERSION).contains(&version) {
        Ok(version)
    } else {
        Err(ProtocolError::InvalidEnvelope(
            "envelope: `version` must be an integer from 1 to 2^53-1".into(),
        ))
    }
}

impl Envelope {
    pub fn parse(value: &Value) -> Result<Self> {
        let obj = check_header(value, &ENVELOPE_KEYS, "envelope")?;
        let agent_id = AgentId::parse(str_field(obj, "agent_id", "envelope")?)?;
        let version = obj.get("version").and_then(Value::as_u64).unwrap_or(0);
        let version = check_version(version)?;
        let (iv, ct) = parse_iv_ct(obj, "envelope")?;
        Ok(Self {
            agent_id,
            version,
            iv,
            ct,
        })
    }

    /// The envelope as JSON. Key order in the `Value` follows serde_json's
    /// map; `to_json_string` always writes v, alg, agent_id, version, iv, ct.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("an envelope always serializes")
    }

    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }

    /// Encrypts a config document under a fresh random IV.
    pub fn seal(
        secret: &EncryptionSecret,
        agent_id: &AgentId,
        version: u64,
        plaintext: &[u8],
    ) -> Result<Self> {
        Self::seal_with_iv(secret, agent_id, version, crypto::random_iv(), plaintext)
    }

    /// As `seal` with a caller-chosen IV. An IV must never repeat under one
    /// key: use this only to reproduce test vectors.
    pub fn seal_with_iv(
        secret: &EncryptionSecret,
        agent_id: &AgentId,
        version: u64,
        iv: [u8; 12],
        plaintext: &[u8],
    ) -> Result<Self> {
        let version = check_version(version)?;
        let key = config_key(secret, agent_id);
        let aad = config_aad(agent_id, version);
        let ct = crypto::seal(&key, &iv, aad.as_bytes(), plaintext);
        Ok(Self {
            agent_id: *agent_id,
            version,
            iv,
            ct,
        })
    }

    /// Decrypts for `expected`, refusing an envelope labelled for another agent.
    pub fn open(
        &self,
        secret: &EncryptionSecret,
        expected: &AgentId,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if self.agent_id != *expected {
            return Err(ProtocolError::WrongAgent);
        }
        let key = config_key(secret, &self.agent_id);
        let aad = config_aad(&self.agent_id, self.version);
        crypto::open(&key, &self.iv, aad.as_bytes(), &self.ct)
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    v: u8,
    alg: &'a str,
    agent_id: &'a AgentId,
    version: u64,
    iv: String,
    ct: String,
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        Wire {
            v: 1,
            alg: ALG,
            agent_id: &self.agent_id,
            version: self.version,
            iv: b64u::encode(&self.iv),
            ct: b64u::encode(&self.ct),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::parse(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
