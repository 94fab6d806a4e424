use openclaw_fleet_protocol::identity::is_signature_text;
use openclaw_fleet_protocol::*;
use serde_json::{json, Value};

const ID: &str = "e686279e-607f-4fd9-9cd9-9415d08d1e83";

fn pk_err(s: &str) -> &'static str {
    match PublicKey::parse(s) {
        Err(ProtocolError::PublicKeyFormat(why)) => why,
        Err(e) => panic!("expected PublicKeyFormat, got {e:?}"),
        Ok(_) => panic!("accepted public key {s}"),
    }
}

fn secret_err<T>(r: Result<T>) -> &'static str {
    match r {
        Err(ProtocolError::SecretFormat(why)) => why,
        Err(e) => panic!("expected SecretFormat, got {e:?}"),
        Ok(_) => panic!("expected SecretFormat, got Ok"),
    }
}

#[test]
fn generated_identity_keys_round_trip() {
    let a = IdentityKey::generate();
    let b = IdentityKey::generate();
    let text = a.to_encoded_secret();
    assert!(text.starts_with("ocf_ik_"));
    assert_eq!(text.len(), 7 + 43);
    assert_ne!(text.as_str(), b.to_encoded_secret().as_str());
    let again = IdentityKey::parse(&text).unwrap();
    assert_eq!(again.public_key(), a.public_key());
    let pk = a.public_key().to_encoded();
    assert!(pk.starts_with("ocf_pk_"));
    assert_eq!(PublicKey::parse(&pk).unwrap(), a.public_key());
    let sig = a.sign("m");
    assert!(a.public_key().verify_text("m", &sig));
    assert!(!b.public_key().verify_text("m", &sig));
    assert!(!a.public_key().verify_text("n", &sig));
}

#[test]
fn identity_key_format_is_strict() {
    let seed = b64u::encode(&[7u8; 32]);
    assert_eq!(
        secret_err(IdentityKey::parse(&seed)),
        "missing ocf_ik_ prefix"
    );
    assert_eq!(
        secret_err(IdentityKey::parse(&format!("ocf_pk_{seed}"))),
        "missing ocf_ik_ prefix"
    );
    for bad in [
        b64u::encode(&[7u8; 31]),
        b64u::encode(&[7u8; 33]),
        format!("{seed}="),
        seed.replace('H', "+"),
        String::new(),
    ] {
        assert_eq!(
            secret_err(IdentityKey::parse(&format!("ocf_ik_{bad}"))),
            "must be base64url of 32 bytes",
            "{bad}"
        );
    }
    assert!(IdentityKey::parse(&format!("ocf_ik_{seed}")).is_ok());
}

#[test]
fn public_key_format_is_strict() {
    let good = IdentityKey::generate().public_key().to_encoded();
    let body = good.strip_prefix("ocf_pk_").unwrap();
    assert_eq!(pk_err(body), "missing ocf_pk_ prefix");
    assert_eq!(pk_err(&format!("ocf_ik_{body}")), "missing ocf_pk_ prefix");
    assert_eq!(pk_err(&format!("OCF_PK_{body}")), "missing ocf_pk_ prefix");
    for bad in [
        format!("{body}="),
        body[..42].to_owned(),
        format!("{body}A"),
        b64u::encode(&[9u8; 31]),
        b64u::encode(&[9u8; 33]),
        hex::encode([9u8; 32]),
    ] {
        assert_eq!(
            pk_err(&format!("ocf_pk_{bad}")),
            "must be base64url of 32 bytes",
            "{bad}"
        );
    }
}

/// Small-order points verify forged signatures under a lax verifier; they are
/// refused as keys outright.
#[test]
fn small_order_public_keys_are_refused() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order_two = [0xffu8; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    for point in [identity, order_two, [0u8; 32]] {
        let text = format!("ocf_pk_{}", b64u::encode(&point));
        assert_eq!(pk_err(&text), "small-order key");
    }
}

#[test]
fn off_curve_public_keys_are_refused() {
    let refused = (2u8..64)
        .map(|n| {
            let mut y = [0u8; 32];
            y[0] = n;
            PublicKey::parse(&format!("ocf_pk_{}", b64u::encode(&y)))
        })
        .filter(|r| {
            matches!(
                r,
                Err(ProtocolError::PublicKeyFormat("not a valid Ed25519 point"))
            )
        })
        .count();
    assert!(refused > 0, "no off-curve candidate was refused");
}

#[test]
fn signature_text_is_strict() {
    let key = IdentityKey::generate();
    let sig = key.sign("m");
    assert_eq!(sig.len(), 86);
    assert!(is_signature_text(&sig));
    let bytes = b64u::decode(&sig).unwrap();
    for bad in [
        format!("{sig}=="),
        sig[..85].to_owned(),
        format!("{sig}A"),
        hex::encode(&bytes),
        b64u::encode(&bytes[..63]),
        b64u::encode(&[bytes.as_slice(), &[0]].concat()),
        sig.replace(['-', '_'], "+"),
        String::new(),
    ] {
        if bad == sig {
            continue;
        }
        assert!(
            matches!(
                Signature::parse(&bad),
                Err(ProtocolError::InvalidIdentitySignature)
            ),
            "{bad}"
        );
        assert!(!key.public_key().verify_text("m", &bad));
    }
    // Non-zero trailing bits in the last character: same bytes, second spelling.
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let twin = alphabet.chars().nth(idx ^ 1).unwrap();
    let spelled = format!("{}{twin}", &sig[..85]);
    assert!(Signature::parse(&spelled).is_err());
}

#[test]
fn enrollment_tokens() {
    let a = EnrollmentToken::generate();
    let b = EnrollmentToken::generate();
    assert!(a.expose_secret().starts_with("ocf_et_"));
    assert_eq!(a.expose_secret().len(), 50);
    assert_ne!(a.expose_secret(), b.expose_secret());
    assert_ne!(a.hash(), b.hash());
    let parsed = EnrollmentToken::parse(a.expose_secret()).unwrap();
    assert_eq!(parsed.hash(), a.hash());
    assert_eq!(a.hash().len(), 64);
    assert!(!a.hash().contains(&a.expose_secret()[7..]));
    let body = b64u::encode(&[3u8; 32]);
    assert_eq!(
        secret_err(EnrollmentToken::parse(&body)),
        "missing ocf_et_ prefix"
    );
    assert_eq!(
        secret_err(EnrollmentToken::parse(&format!("ocf_at_{body}"))),
        "missing ocf_et_ prefix"
    );
    for bad in [
        format!("{body}="),
        body[..42].to_owned(),
        hex::encode([3u8; 32]),
    ] {
        assert_eq!(
            secret_err(EnrollmentToken::parse(&format!("ocf_et_{bad}"))),
            "must be base64url of 32 bytes"
        );
    }
}

fn invalid(body: &Value) -> String {
    match HandshakeRequest::parse(body) {
        Err(HandshakeRejection::Invalid(msg)) => msg,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn handshake_alg_selects_the_signature_form() {
    let key = IdentityKey::generate();
    let ed_sig = key.sign(&handshake_message(ID, "1"));
    let hex_sig = "00".repeat(32);
    let hmac =
        HandshakeRequest::parse(&json!({"agent_id": ID, "timestamp": "1", "signature": hex_sig}))
            .unwrap();
    assert_eq!(hmac.alg, HandshakeAlg::Hmac);
    let explicit = HandshakeRequest::parse(
        &json!({"agent_id": ID, "timestamp": "1", "alg": "hmac", "signature": hex_sig}),
    )
    .unwrap();
    assert_eq!(explicit.alg, HandshakeAlg::Hmac);
    let ed = HandshakeRequest::parse(
        &json!({"agent_id": ID, "timestamp": "1", "alg": "ed25519", "signature": ed_sig}),
    )
    .unwrap();
    assert_eq!(ed.alg, HandshakeAlg::Ed25519);
    assert!(ed.verify_ed25519(&key.public_key()));

    // Each alg accepts only its own form.
    assert!(
        invalid(&json!({"agent_id": ID, "timestamp": "1", "signature": ed_sig})).contains("hex")
    );
    assert!(invalid(
        &json!({"agent_id": ID, "timestamp": "1", "alg": "ed25519", "signature": hex_sig})
    )
    .contains("base64url"));
    for alg in [
        json!("Ed25519"),
        json!("eddsa"),
        json!(""),
        json!(null),
        json!(1),
    ] {
        assert!(
            invalid(&json!({"agent_id": ID, "timestamp": "1", "alg": alg, "signature": ed_sig}))
                .contains("`alg`"),
            "{alg}"
        );
    }
}

#[test]
fn an_ed25519_request_never_passes_as_hmac_and_back() {
    let key = IdentityKey::generate();
    let secret = AgentSecret::generate();
    let ed = HandshakeRequest::parse(&handshake_body_ed25519(
        &AgentId::parse(ID).unwrap(),
        5,
        &key,
    ))
    .unwrap();
    assert!(!ed.verify(&secret));
    let hmac =
        HandshakeRequest::parse(&handshake_body(&AgentId::parse(ID).unwrap(), 5, &secret)).unwrap();
    assert!(hmac.verify(&secret));
    assert!(!hmac.verify_ed25519(&key.public_key()));
}

#[test]
fn identity_keys_in_plaintext_are_refused() {
    let key = IdentityKey::generate();
    let text = key.to_encoded_secret().to_string();
    let sig = key.sign(&handshake_message(ID, "1"));
    for body in [
        json!({"agent_id": ID, "timestamp": "1", "alg": "ed25519", "signature": sig, "note": text}),
        json!({"agent_id": ID, "timestamp": "1", "alg": "ed25519", "signature": sig, "identity_key": "x"}),
        json!({"agent_id": ID, "timestamp": "1", "alg": "ed25519", "signature": sig, "x": [{"y": text}]}),
    ] {
        assert_eq!(
            HandshakeRequest::parse(&body).unwrap_err(),
            HandshakeRejection::PlaintextSecret
        );
    }
    let token = EnrollmentToken::generate();
    let mut enroll = enroll_body(&AgentId::parse(ID).unwrap(), &token, &key, 1);
    assert!(EnrollRequest::parse(&enroll).is_ok());
    enroll["identity_key"] = json!(text);
    assert!(matches!(
        EnrollRequest::parse(&enroll),
        Err(HandshakeRejection::PlaintextSecret)
    ));
}

#[test]
fn enroll_request_parsing_names_the_field() {
    let key = IdentityKey::generate();
    let token = EnrollmentToken::generate();
    let good = enroll_body(&AgentId::parse(ID).unwrap(), &token, &key, 1_764_326_400);
    let req = EnrollRequest::parse(&good).unwrap();
    assert!(req.verify_proof());
    let debug = format!("{req:?}");
    assert!(!debug.contains(&token.expose_secret()[7..]), "{debug}");
    for (field, value, names) in [
        (
            "agent_id",
            json!("E686279E-607F-4FD9-9CD9-9415D08D1E83"),
            "agent_id",
        ),
        (
            "enrollment_token",
            json!("ocf_et_short"),
            "enrollment_token",
        ),
        ("enrollment_token", json!(7), "enrollment_token"),
        (
            "public_key",
            json!(format!("ocf_pk_{}", b64u::encode(&[0u8; 32]))),
            "public_key",
        ),
        ("timestamp", json!("-1"), "timestamp"),
        ("signature", json!("00".repeat(64)), "signature"),
    ] {
        let mut body = good.clone();
        body[field] = value;
        match EnrollRequest::parse(&body) {
            Err(HandshakeRejection::Invalid(msg)) => assert!(msg.contains(names), "{msg}"),
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("signature");
    assert!(EnrollRequest::parse(&missing).is_err());
    assert!(EnrollRequest::parse(&json!([])).is_err());
}
