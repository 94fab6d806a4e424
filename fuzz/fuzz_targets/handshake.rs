//! `HandshakeRequest::parse` and `canonical_timestamp` on any JSON (and any text as a
//! timestamp string): never panic; an accepted timestamp's canonical text is its
//! decimal value without sign or leading zeros; verification never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_fleet_protocol::{canonical_timestamp, AgentSecret, HandshakeRequest};
use serde_json::Value;

fn check_canonical(v: &Value) {
    if let Ok((n, text)) = canonical_timestamp(v) {
        assert_eq!(text, n.to_string());
        assert!(text == "0" || !text.starts_with('0'));
        if let Value::String(s) = v {
            assert!(s.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(s.trim_start_matches('0').parse::<u64>().unwrap_or(0), n);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_canonical(&Value::String(s.to_owned()));
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    check_canonical(&value);
    if let Some(ts) = value.get("timestamp") {
        check_canonical(ts);
    }
    if let Ok(req) = HandshakeRequest::parse(&value) {
        assert_eq!(req.timestamp_text, req.timestamp.to_string());
        assert_eq!(req.signature.len(), 64);
        let secret = AgentSecret::from_opaque("fuzz-secret".into()).expect("secret");
        let _ = req.verify(&secret);
    }
});
