use openclaw_fleet_protocol::*;
use serde_json::{json, Value};

const ID: &str = "e4ae201b-16ae-4a4a-b097-ef07a4470162";
const SECRET: &str = "ocf_as_OQi53MUQkW_y81RzE5CxostJvQW4UrFtazSR49NVNJ4";
/// Signature of vector 3 (timestamp "1").
const SIG: &str = "338d2b1e8abdef269fb9f84e87e2d28229a185ede1d79d6b8aa5c577fa6f0bb5";

fn secret() -> AgentSecret {
    AgentSecret::parse(SECRET).unwrap()
}

fn body() -> Value {
    json!({"agent_id": ID, "timestamp": "1", "signature": SIG})
}

fn invalid_field(body: Value) -> String {
    match HandshakeRequest::parse(&body) {
        Err(HandshakeRejection::Invalid(msg)) => msg,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn canonical_timestamps() {
    let ok = |v: Value| canonical_timestamp(&v).unwrap();
    assert_eq!(ok(json!("0001")), (1, "1".to_owned()));
    assert_eq!(ok(json!("0")), (0, "0".to_owned()));
    assert_eq!(ok(json!("000")), (0, "0".to_owned()));
    assert_eq!(ok(json!(0)), (0, "0".to_owned()));
    assert_eq!(
        ok(json!(1764326400u64)),
        (1764326400, "1764326400".to_owned())
    );
    assert_eq!(
        ok(json!("9999999999999999999")).0,
        9_999_999_999_999_999_999
    );
    assert_eq!(ok(json!(u64::MAX)).1, u64::MAX.to_string());
}

#[test]
fn non_canonical_timestamps_are_refused() {
    let bad: Vec<Value> = vec![
        json!(""),
        json!("-1"),
        json!("+1"),
        json!(" 1"),
        json!("1 "),
        json!("1e3"),
        json!("1.0"),
        json!("0x10"),
        json!("\u{ff11}"),
        json!("12345678901234567890"),
        json!(-1),
        json!(1.5),
        json!(1e3),
        json!(1.0),
        json!(null),
        json!(true),
        json!([1]),
    ];
    for v in bad {
        assert!(
            matches!(
                canonical_timestamp(&v),
                Err(ProtocolError::InvalidTimestamp)
            ),
            "{v}"
        );
    }
    let huge: Value = serde_json::from_str("18446744073709551616").unwrap();
    assert!(canonical_timestamp(&huge).is_err());
}

#[test]
fn leading_zeros_are_signed_canonically() {
    let mut b = body();
    b["timestamp"] = json!("0001");
    let req = HandshakeRequest::parse(&b).unwrap();
    assert_eq!(req.timestamp_text, "1");
    assert!(req.verify(&secret()));
}

#[test]
fn verify_requires_exact_lowercase_hex() {
    let s = secret();
    assert!(verify(ID, "1", &s, SIG));
    assert!(!verify(ID, "1", &s, &SIG.to_uppercase()));
    assert!(!verify(ID, "1", &s, &SIG[..63]));
    assert!(!verify(ID, "1", &s, &format!("{SIG}0")));
    assert!(!verify(ID, "1", &s, ""));
    assert!(!verify(ID, "2", &s, SIG));
    let other = AgentSecret::generate();
    assert!(!verify(ID, "1", &other, SIG));
}

#[test]
fn plaintext_secret_is_detected_first() {
    let variants = [
        ("agent_secret", json!(SECRET)),
        ("agent_secret", json!(null)),
        ("secret", json!("anything")),
        ("encryption_secret", json!(1)),
        ("Agent_Secret", json!("x")),
        ("debug", json!({"nested": ["ocf_es_abc"]})),
        ("note", json!(format!("my secret is {SECRET}"))),
    ];
    for (key, value) in variants {
        let mut b = body();
        b[key] = value;
        assert_eq!(
            HandshakeRequest::parse(&b).unwrap_err(),
            HandshakeRejection::PlaintextSecret,
            "{key}"
        );
    }
    let mut b = body();
    b["signature"] = json!(SECRET);
    assert_eq!(
        HandshakeRequest::parse(&b).unwrap_err(),
        HandshakeRejection::PlaintextSecret
    );
    let only_secret = json!({"agent_secret": SECRET});
    assert_eq!(
        HandshakeRequest::parse(&only_secret).unwrap_err(),
        HandshakeRejection::PlaintextSecret
    );
    assert_eq!(
        HandshakeRequest::parse(&json!([SECRET])).unwrap_err(),
        HandshakeRejection::PlaintextSecret
    );
}

#[test]
fn malformed_bodies_name_the_field() {
    assert!(invalid_field(json!([1])).contains("object"));
    for (key, value, field) in [
        ("agent_id", json!(null), "agent_id"),
        ("agent_id", json!(ID.to_uppercase()), "agent_id"),
        ("agent_id", json!(42), "agent_id"),
        ("timestamp", json!("1e3"), "timestamp"),
        ("timestamp", json!(1.5), "timestamp"),
        ("timestamp", json!(-5), "timestamp"),
        ("signature", json!(SIG.to_uppercase()), "signature"),
        ("signature", json!(&SIG[1..]), "signature"),
        ("signature", json!(format!("{}zz", &SIG[2..])), "signature"),
        ("signature", json!(1), "signature"),
    ] {
        let mut b = body();
        b[key] = value;
        let msg = invalid_field(b);
        assert!(msg.contains(field), "{msg}");
    }
    for key in ["agent_id", "timestamp", "signature"] {
        let mut b = body();
        b.as_object_mut().unwrap().remove(key);
        assert!(invalid_field(b).contains(key));
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let mut b = body();
    b["client"] = json!({"version": "1.2.3"});
    let req = HandshakeRequest::parse(&b).unwrap();
    assert_eq!(req.agent_id.to_string(), ID);
    assert_eq!((req.timestamp, req.signature.as_str()), (1, SIG));
}

#[test]
fn client_body_round_trips() {
    let id = AgentId::new_v4();
    let s = AgentSecret::generate();
    let b = handshake_body(&id, 1_764_326_400, &s);
    assert_eq!(b["timestamp"], json!("1764326400"));
    let req = HandshakeRequest::parse(&b).unwrap();
    assert_eq!(req.agent_id, id);
    assert!(req.verify(&s));
    assert!(!req.verify(&AgentSecret::generate()));
}
