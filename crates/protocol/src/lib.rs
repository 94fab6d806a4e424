//! OpenClaw Fleet wire types and crypto (SPEC v1), shared by the server, the
//! host agent and the tools. No I/O: every function here is pure, so each
//! party can be tested byte for byte against the shared vectors.

pub mod b64u;
mod crypto;
pub mod document;
pub mod edit;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod handshake;
pub mod identity;
pub mod ids;
pub mod master_key;
pub mod secrets;
pub mod wire;

pub use document::{
    check_document, dotenv_quote, valid_env_name, valid_env_value, zeroize_value, ConfigDocument,
};
pub use edit::{DocumentEdit, EditRefusal};
pub use envelope::{config_aad, config_key, Envelope, MAX_VERSION};
pub use error::{ProtocolError, Result};
pub use fields::{GatewayUrl, Name, PolicyProfile};
pub use handshake::{
    canonical_timestamp, handshake_body, sign, verify, HandshakeAlg, HandshakeRejection,
    HandshakeRequest,
};
pub use identity::{
    enroll_body, enroll_message, handshake_body_ed25519, handshake_message, EnrollRequest,
    EnrollmentToken, IdentityKey, PublicKey, Signature, ENROLLMENT_TOKEN_PREFIX,
    IDENTITY_KEY_PREFIX, PUBLIC_KEY_PREFIX,
};
pub use ids::{AgentId, UserId};
pub use master_key::{
    check_passphrase, key_check_aad, wrap_aad, Kdf, MasterKey, Sealed, WrapKey,
    KEY_CHECK_PLAINTEXT, MAX_ITERATIONS, MIN_ITERATIONS, MIN_PASSPHRASE_CHARS,
};
pub use secrets::{AgentSecret, EncryptionSecret, AGENT_SECRET_PREFIX, ENCRYPTION_SECRET_PREFIX};
pub use wire::{
    builtin_policies, policy, AgentStatus, ConfigDelivery, ConfigResponse, HandshakeResponse,
    HeartbeatRequest, HeartbeatResponse, Policy, DEFAULT_POLICY,
};
