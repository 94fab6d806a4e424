//! `AgentSecret::parse`, `EncryptionSecret::parse`, `AgentSecret::from_opaque` and
//! `b64u::decode` on any text: never panic, and decoding is canonical (what decodes
//! re-encodes to exactly the input, so each value has one accepted spelling).
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_fleet_protocol::{b64u, AgentSecret, EncryptionSecret};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bytes) = b64u::decode(s) {
        assert_eq!(b64u::encode(&bytes), s, "non-canonical base64url accepted");
    }
    if let Ok(secret) = EncryptionSecret::parse(s) {
        assert_eq!(secret.to_encoded().as_str(), s);
    }
    if let Ok(secret) = AgentSecret::parse(s) {
        assert_eq!(secret.expose_secret(), s);
        assert_eq!(s.len(), 50);
    }
    if let Ok(secret) = AgentSecret::from_opaque(s.to_owned()) {
        assert!(!secret.expose_secret().is_empty() && secret.expose_secret().len() <= 256);
    }
});
