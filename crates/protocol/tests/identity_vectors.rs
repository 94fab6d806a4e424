//! Runs every vector of `spec/test-vectors/identity-ed25519.json`, valid and
//! invalid (SPEC-identity): keys and messages are reproduced byte for byte,
//! signatures are reproduced (Ed25519 is deterministic) and verified
//! strictly, and every invalid signature is refused, the non-canonical one
//! included.

use openclaw_fleet_protocol::identity::ED25519_ALG;
use openclaw_fleet_protocol::*;
use serde_json::{json, Value};

mod support;
use support::{cases, s};

fn vectors() -> Value {
    support::vectors("identity-ed25519.json")
}

/// The key pair of a case: the identity key round-trips and derives the
/// vector's public key, which itself round-trips.
fn key_pair(case: &Value) -> (IdentityKey, PublicKey) {
    let key = IdentityKey::parse(s(case, "identity_key")).unwrap();
    assert_eq!(key.to_encoded_secret().as_str(), s(case, "identity_key"));
    let public = PublicKey::parse(s(case, "public_key")).unwrap();
    assert_eq!(public.to_encoded(), s(case, "public_key"));
    assert_eq!(key.public_key(), public);
    (key, public)
}

#[test]
fn handshake_valid() {
    let file = vectors();
    for case in cases(&file, "valid") {
        let (key, public) = key_pair(case);
        let (id, ts, sig) = (
            s(case, "agent_id"),
            s(case, "timestamp"),
            s(case, "signature"),
        );
        let message = handshake_message(id, ts);
        assert_eq!(message, s(case, "message"));
        assert_eq!(key.sign(&message), sig);
        let parsed = Signature::parse(sig).unwrap();
        assert_eq!(parsed.to_encoded(), sig);
        assert!(public.verify(&message, &parsed));

        let agent = AgentId::parse(id).unwrap();
        let ts_value: u64 = ts.parse().unwrap();
        let body = handshake_body_ed25519(&agent, ts_value, &key);
        assert_eq!(
            body,
            json!({"agent_id": id, "timestamp": ts, "alg": ED25519_ALG, "signature": sig})
        );
        let req = HandshakeRequest::parse(&body).unwrap();
        assert_eq!(req.alg, HandshakeAlg::Ed25519);
        assert!(req.verify_ed25519(&public));
        // The integer timestamp form signs the same canonical text.
        let mut int_body = body.clone();
        int_body["timestamp"] = json!(ts_value);
        assert!(HandshakeRequest::parse(&int_body)
            .unwrap()
            .verify_ed25519(&public));
    }
}

#[test]
fn handshake_invalid() {
    let file = vectors();
    for case in cases(&file, "invalid") {
        let why = s(case, "why");
        let public = PublicKey::parse(s(case, "public_key")).unwrap();
        let (id, ts, sig) = (
            s(case, "agent_id"),
            s(case, "timestamp"),
            s(case, "signature"),
        );
        let message = handshake_message(id, ts);
        assert!(!public.verify_text(&message, sig), "accepted: {why}");
        let body = json!({"agent_id": id, "timestamp": ts, "alg": "ed25519", "signature": sig});
        match Signature::parse(sig) {
            // A malformed signature is refused before any lookup (400).
            Err(ProtocolError::InvalidIdentitySignature) => {
                assert!(
                    matches!(
                        HandshakeRequest::parse(&body),
                        Err(HandshakeRejection::Invalid(_))
                    ),
                    "{why}"
                );
                assert!(
                    why.contains("truncated") || why.contains("base64") || why.contains("hex"),
                    "{why} should be well formed"
                );
            }
            Err(e) => panic!("{why}: unexpected {e}"),
            Ok(parsed) => {
                assert!(!public.verify(&message, &parsed), "accepted: {why}");
                let req = HandshakeRequest::parse(&body).unwrap();
                assert!(!req.verify_ed25519(&public), "accepted: {why}");
            }
        }
    }
}

/// The non-canonical vector is the valid signature with `S + L`: a lax
/// verifier (reducing S) would accept it, a strict one must not.
#[test]
fn non_canonical_s_is_the_valid_signature_plus_l() {
    let file = vectors();
    let valid = &cases(&file, "valid")[0];
    let bad = cases(&file, "invalid")
        .iter()
        .find(|c| s(c, "why").contains("non-canonical"))
        .expect("non-canonical vector");
    let good_bytes = b64u::decode(s(valid, "signature")).unwrap();
    let bad_bytes = b64u::decode(s(bad, "signature")).unwrap();
    assert_eq!(good_bytes[..32], bad_bytes[..32], "same R");
    assert_ne!(good_bytes[32..], bad_bytes[32..], "different S");
    let public = PublicKey::parse(s(valid, "public_key")).unwrap();
    assert!(!public.verify_text(s(valid, "message"), s(bad, "signature")));
}

#[test]
fn enroll_valid() {
    let file = vectors();
    for case in cases(&file, "enroll") {
        let (key, public) = key_pair(case);
        let (id, ts, sig) = (
            s(case, "agent_id"),
            s(case, "timestamp"),
            s(case, "signature"),
        );
        let message = enroll_message(id, &public, ts);
        assert_eq!(message, s(case, "message"));
        assert_eq!(key.sign(&message), sig);

        let token = EnrollmentToken::parse(s(case, "enrollment_token")).unwrap();
        assert_eq!(token.expose_secret(), s(case, "enrollment_token"));
        let body = enroll_body(
            &AgentId::parse(id).unwrap(),
            &token,
            &key,
            ts.parse().unwrap(),
        );
        assert_eq!(body["signature"], case["signature"]);
        assert_eq!(body["public_key"], case["public_key"]);
        let req = EnrollRequest::parse(&body).unwrap();
        assert_eq!(req.message(), message);
        assert!(req.verify_proof());
        assert_eq!(req.enrollment_token.hash(), token.hash());
    }
}

/// An enroll proof is bound to the agent, the key and the timestamp, and is
/// never a handshake signature (different context string).
#[test]
fn enroll_proof_is_bound_to_its_fields() {
    let file = vectors();
    let cases = cases(&file, "enroll");
    let (a, b) = (&cases[0], &cases[1]);
    let body = |case: &Value| -> Value {
        json!({
            "agent_id": s(case, "agent_id"),
            "enrollment_token": s(case, "enrollment_token"),
            "public_key": s(case, "public_key"),
            "timestamp": s(case, "timestamp"),
            "signature": s(case, "signature"),
        })
    };
    assert!(EnrollRequest::parse(&body(a)).unwrap().verify_proof());
    for (field, value) in [
        ("agent_id", json!(s(b, "agent_id"))),
        ("public_key", json!(s(b, "public_key"))),
        ("timestamp", json!("1764326401")),
        ("signature", json!(s(b, "signature"))),
    ] {
        let mut tampered = body(a);
        tampered[field] = value;
        let req = EnrollRequest::parse(&tampered).unwrap();
        assert!(!req.verify_proof(), "proof survived a changed {field}");
    }
    // The handshake signature of the same key and time does not enroll.
    let key = IdentityKey::parse(s(a, "identity_key")).unwrap();
    let mut hs = body(a);
    hs["signature"] = json!(key.sign(&handshake_message(s(a, "agent_id"), s(a, "timestamp"))));
    assert!(!EnrollRequest::parse(&hs).unwrap().verify_proof());
}
