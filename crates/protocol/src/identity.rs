//! Ed25519 agent identities (SPEC-identity): the host-held identity key
//! (`ocf_ik_`), its public key (`ocf_pk_`, the only part the server stores),
//! the strict signature form (base64url of exactly 64 bytes), the signed
//! messages, and strict verification, which refuses non-canonical `S` and
//! small-order keys so every accepted signature has exactly one form.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::b64u;
use crate::error::{ProtocolError, Result};

mod enroll;

pub use enroll::{enroll_body, EnrollRequest, EnrollmentToken, ENROLLMENT_TOKEN_PREFIX};

pub const IDENTITY_KEY_PREFIX: &str = "ocf_ik_";
pub const PUBLIC_KEY_PREFIX: &str = "ocf_pk_";
/// The `alg` value of an Ed25519 handshake.
pub const ED25519_ALG: &str = "ed25519";

const HANDSHAKE_CONTEXT: &str = "openclaw-fleet/handshake/v1|";
const ENROLL_CONTEXT: &str = "openclaw-fleet/enroll/v1|";

/// `utf8("openclaw-fleet/handshake/v1|" + agent_id + "|" + timestamp)`.
pub fn handshake_message(agent_id: &str, ts_canonical: &str) -> String {
    format!("{HANDSHAKE_CONTEXT}{agent_id}|{ts_canonical}")
}

/// `utf8("openclaw-fleet/enroll/v1|" + agent_id + "|" + public_key + "|" + timestamp)`,
/// with the public key in its `ocf_pk_` text form.
pub fn enroll_message(agent_id: &str, public_key: &PublicKey, ts_canonical: &str) -> String {
    format!(
        "{ENROLL_CONTEXT}{agent_id}|{}|{ts_canonical}",
        public_key.to_encoded()
    )
}

/// The private identity key of one agent (an Ed25519 seed). Lives on the host
/// only; no Debug, Clone or Serialize, zeroized on drop (by `SigningKey`), and
/// its text form is only reachable through [`IdentityKey::to_encoded_secret`].
pub struct IdentityKey(SigningKey);

impl IdentityKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(seed.as_mut());
        Self(SigningKey::from_bytes(&seed))
    }

    /// `ocf_ik_` + b64u(32-byte seed), strictly.
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(IDENTITY_KEY_PREFIX)
            .ok_or(ProtocolError::SecretFormat("missing ocf_ik_ prefix"))?;
        let seed = Zeroizing::new(
            b64u::decode_array::<32>(rest)
                .map_err(|_| ProtocolError::SecretFormat("must be base64url of 32 bytes"))?,
        );
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The `ocf_ik_…` text, for writing to the key file (mode 0600) once.
    pub fn to_encoded_secret(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.0.to_bytes());
        let mut s = Zeroizing::new(String::with_capacity(IDENTITY_KEY_PREFIX.len() + 43));
        s.push_str(IDENTITY_KEY_PREFIX);
        b64u::encode_into(seed.as_ref(), &mut s);
        s
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// b64u(Ed25519 signature of `message`).
    pub fn sign(&self, message: &str) -> String {
        b64u::encode(&self.0.sign(message.as_bytes()).to_bytes())
    }
}

/// An agent's public key, as stored by the server. Parsing refuses anything
/// but `ocf_pk_` + b64u(32 bytes) of a valid point that is not of small order.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .ok_or(ProtocolError::PublicKeyFormat("missing ocf_pk_ prefix"))?;
        let bytes = b64u::decode_array::<32>(rest)
            .map_err(|_| ProtocolError::PublicKeyFormat("must be base64url of 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| ProtocolError::PublicKeyFormat("not a valid Ed25519 point"))?;
        if key.is_weak() {
            return Err(ProtocolError::PublicKeyFormat("small-order key"));
        }
        Ok(Self(key))
    }

    pub fn to_encoded(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX}{}", b64u::encode(self.0.as_bytes()))
    }

    /// Strict Ed25519 verification of `signature` (already parsed) over `message`.
    pub fn verify(&self, message: &str, signature: &Signature) -> bool {
        self.0
            .verify_strict(message.as_bytes(), &signature.0)
            .is_ok()
    }

    /// Parses `signature` and verifies it strictly; a malformed signature is
    /// simply not valid.
    pub fn verify_text(&self, message: &str, signature: &str) -> bool {
        Signature::parse(signature).is_ok_and(|sig| self.verify(message, &sig))
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_encoded())
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_encoded())
    }
}

/// An Ed25519 signature in its only accepted text form: base64url without
/// padding of exactly 64 bytes. Hex, padded or standard base64 and other
/// lengths are malformed. (Whether `S` is canonical is checked on verification.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    pub fn parse(s: &str) -> Result<Self> {
        // 64 bytes encode to exactly 86 characters; refuse anything else before
        // decoding so a huge input costs nothing.
        if s.len() != 86 {
            return Err(ProtocolError::InvalidIdentitySignature);
        }
        let bytes =
            b64u::decode_array::<64>(s).map_err(|_| ProtocolError::InvalidIdentitySignature)?;
        Ok(Self(ed25519_dalek::Signature::from_bytes(&bytes)))
    }

    pub fn to_encoded(&self) -> String {
        b64u::encode(&self.0.to_bytes())
    }
}

/// True when `s` is a well-formed signature text (see [`Signature`]).
pub fn is_signature_text(s: &str) -> bool {
    Signature::parse(s).is_ok()
}

/// The body of an Ed25519 handshake (`alg: "ed25519"`, timestamp as a string).
pub fn handshake_body_ed25519(
    agent_id: &crate::ids::AgentId,
    now_unix: u64,
    key: &IdentityKey,
) -> serde_json::Value {
    let id = agent_id.to_string();
    let ts = now_unix.to_string();
    let signature = key.sign(&handshake_message(&id, &ts));
    serde_json::json!({ "agent_id": id, "timestamp": ts, "alg": ED25519_ALG, "signature": signature })
}
