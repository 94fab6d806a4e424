//! Bearer tokens (owner sessions `ocf_st_…`, agent sessions `ocf_at_…`): 32 random
//! bytes, handed out once and stored only as their SHA-256, so a database reader
//! cannot use them.

use openclaw_fleet_protocol::b64u;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const SESSION_PREFIX: &str = "ocf_st_";
pub const AGENT_PREFIX: &str = "ocf_at_";
/// A webhook signing secret (32 random bytes like a token, but sealed, not hashed: the
/// server signs with it).
pub const WEBHOOK_PREFIX: &str = "ocf_whs_";

/// A fresh token with the given prefix.
pub fn generate(prefix: &str) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
    Zeroizing::new(format!("{prefix}{}", b64u::encode(&bytes[..])))
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A session's public id: derived from its stored hash, so it names the session in
/// the activity log and config history without being usable to find or present it.
pub fn session_id(token_hash: &str) -> String {
    let digest = Sha256::digest(format!("openclaw-fleet/session-id/v1|{token_hash}").as_bytes());
    hex::encode(&digest[..8])
}
