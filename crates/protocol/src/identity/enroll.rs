//! Enrollment (SPEC-identity): the single-use `ocf_et_` token the owner is
//! shown once (the server keeps only its SHA-256), and the strict parsing of
//! the `POST /api/agents/enroll` body with its proof of key possession.

use std::fmt;

use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{enroll_message, IdentityKey, PublicKey, Signature};
use crate::b64u;
use crate::error::{ProtocolError, Result};
use crate::handshake::{canonical_timestamp, carries_plaintext_secret, HandshakeRejection};
use crate::ids::AgentId;

pub const ENROLLMENT_TOKEN_PREFIX: &str = "ocf_et_";

/// `ocf_et_` + b64u(32 random bytes). A secret: no Debug, Clone or Serialize,
/// zeroized on drop; the text is reachable only through
/// [`EnrollmentToken::expose_secret`], the stored form through [`EnrollmentToken::hash`].
pub struct EnrollmentToken(Zeroizing<String>);

impl EnrollmentToken {
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        let mut s = Zeroizing::new(String::with_capacity(ENROLLMENT_TOKEN_PREFIX.len() + 43));
        s.push_str(ENROLLMENT_TOKEN_PREFIX);
        b64u::encode_into(bytes.as_ref(), &mut s);
        Self(s)
    }

    /// The `ocf_et_` prefix and exactly 32 encoded bytes.
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(ENROLLMENT_TOKEN_PREFIX)
            .ok_or(ProtocolError::SecretFormat("missing ocf_et_ prefix"))?;
        let _checked = Zeroizing::new(
            b64u::decode_array::<32>(rest)
                .map_err(|_| ProtocolError::SecretFormat("must be base64url of 32 bytes"))?,
        );
        Ok(Self(Zeroizing::new(s.to_owned())))
    }

    /// The token text, to show the owner once or to send when enrolling.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The stored form: lowercase hex of SHA-256 over the token text.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// A well-formed `POST /api/agents/enroll` body; neither the token nor the
/// proof has been checked yet.
pub struct EnrollRequest {
    pub agent_id: AgentId,
    pub enrollment_token: EnrollmentToken,
    pub public_key: PublicKey,
    pub timestamp: u64,
    pub timestamp_text: String,
    pub signature: Signature,
}

impl fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("agent_id", &self.agent_id)
            .field("enrollment_token", &"<redacted>")
            .field("public_key", &self.public_key)
            .field("timestamp", &self.timestamp)
            .field("signature", &self.signature)
            .finish()
    }
}

impl EnrollRequest {
    /// Strict parsing; a body that carries a secret (agent secret, encryption
    /// secret or identity key) in plaintext is refused as such.
    pub fn parse(body: &Value) -> std::result::Result<Self, HandshakeRejection> {
        let invalid = |msg: &str| HandshakeRejection::Invalid(msg.to_owned());
        if carries_plaintext_secret(body) {
            return Err(HandshakeRejection::PlaintextSecret);
        }
        let obj = body
            .as_object()
            .ok_or_else(|| invalid("body must be a JSON object"))?;
        let text = |key: &str| obj.get(key).and_then(Value::as_str);
        let agent_id = text("agent_id")
            .and_then(|s| AgentId::parse(s).ok())
            .ok_or_else(|| invalid("`agent_id` must be a lowercase UUID"))?;
        let enrollment_token = text("enrollment_token")
            .and_then(|s| EnrollmentToken::parse(s).ok())
            .ok_or_else(|| invalid("`enrollment_token` must be an ocf_et_ token"))?;
        let public_key = text("public_key")
            .and_then(|s| PublicKey::parse(s).ok())
            .ok_or_else(|| invalid("`public_key` must be an ocf_pk_ Ed25519 public key"))?;
        let ts = obj
            .get("timestamp")
            .ok_or_else(|| invalid("`timestamp` is required"))?;
        let (timestamp, timestamp_text) = canonical_timestamp(ts)
            .map_err(|_| invalid("`timestamp` must be unix seconds (digits or integer)"))?;
        let signature = text("signature")
            .and_then(|s| Signature::parse(s).ok())
            .ok_or_else(|| invalid("`signature` must be base64url (no padding) of 64 bytes"))?;
        Ok(Self {
            agent_id,
            enrollment_token,
            public_key,
            timestamp,
            timestamp_text,
            signature,
        })
    }

    /// The signed message this request must carry a proof for.
    pub fn message(&self) -> String {
        enroll_message(
            &self.agent_id.to_string(),
            &self.public_key,
            &self.timestamp_text,
        )
    }

    /// Strict check that the enrolling party holds the private key of `public_key`.
    pub fn verify_proof(&self) -> bool {
        self.public_key.verify(&self.message(), &self.signature)
    }
}

/// The body an agent posts to `/api/agents/enroll` (timestamp as a string).
pub fn enroll_body(
    agent_id: &AgentId,
    token: &EnrollmentToken,
    key: &IdentityKey,
    now_unix: u64,
) -> Value {
    let id = agent_id.to_string();
    let ts = now_unix.to_string();
    let public_key = key.public_key();
    let signature = key.sign(&enroll_message(&id, &public_key, &ts));
    json!({
        "agent_id": id,
        "enrollment_token": token.expose_secret(),
        "public_key": public_key.to_encoded(),
        "timestamp": ts,
        "signature": signature,
    })
}
