//! The one error type of the protocol crate. Every message is fixed text or
//! names a field: no variant ever carries a secret, a key, or plaintext, so an
//! error can be logged or returned to a client as it is.

/// Why a protocol value was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    #[error("invalid base64url: {0}")]
    Base64(&'static str),
    #[error("malformed secret: {0}")]
    SecretFormat(&'static str),
    #[error("invalid id: expected a lowercase hyphenated UUID")]
    InvalidId,
    #[error("invalid timestamp: expected unix seconds as decimal digits")]
    InvalidTimestamp,
    #[error("invalid signature: expected 64 lowercase hex characters")]
    InvalidSignature,
    #[error("invalid signature: expected base64url (no padding) of exactly 64 bytes")]
    InvalidIdentitySignature,
    #[error("malformed public key: {0}")]
    PublicKeyFormat(&'static str),
    #[error("unsupported envelope version")]
    UnsupportedEnvelopeVersion,
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    #[error("iv must be 12 bytes")]
    IvLength,
    #[error("ciphertext is shorter than the 16-byte tag")]
    CiphertextTooShort,
    #[error("invalid envelope: {0}")]
    InvalidEnvelope(String),
    #[error("envelope is addressed to another agent")]
    WrongAgent,
    #[error("decryption failed: wrong key, or the data was altered")]
    Decryption,
    #[error("kdf iterations {iterations} outside the allowed range 600000..=10000000")]
    WeakKdf { iterations: u32 },
    #[error("invalid kdf parameters: {0}")]
    InvalidKdf(&'static str),
    #[error("passphrase is shorter than 12 characters")]
    WeakPassphrase,
    #[error("invalid config document: {0}")]
    InvalidDocument(String),
    #[error("edit refused: {0}")]
    InvalidEdit(crate::edit::EditRefusal),
    #[error("invalid metrics: {0}")]
    InvalidMetrics(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An owner-editable field (name, gateway URL, policy profile); the text says
    /// which and what it must be.
    #[error("{0}")]
    InvalidField(&'static str),
}

pub type Result<T> = std::result::Result<T, ProtocolError>;
