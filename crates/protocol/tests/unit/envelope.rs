use openclaw_fleet_protocol::*;
use serde_json::{json, Value};

fn sample() -> (EncryptionSecret, AgentId, Envelope) {
    let secret = EncryptionSecret::generate();
    let id = AgentId::new_v4();
    let env = Envelope::seal(&secret, &id, 3, br#"{"schema":1}"#).unwrap();
    (secret, id, env)
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

#[test]
fn seal_open_round_trip() {
    let (secret, id, env) = sample();
    assert_eq!(env.version, 3);
    assert_eq!(env.ct.len(), 12 + 16);
    assert_eq!(
        env.open(&secret, &id).unwrap().as_slice(),
        br#"{"schema":1}"#
    );
    let again = Envelope::seal(&secret, &id, 3, br#"{"schema":1}"#).unwrap();
    assert_ne!(again.iv, env.iv, "a fresh IV per seal");
    assert_eq!(Envelope::parse(&env.to_json()).unwrap(), env);
    let via_serde: Envelope = serde_json::from_str(&env.to_json_string()).unwrap();
    assert_eq!(via_serde, env);
}

#[test]
fn open_checks_agent_and_key() {
    let (secret, id, env) = sample();
    assert!(matches!(
        env.open(&secret, &AgentId::new_v4()),
        Err(ProtocolError::WrongAgent)
    ));
    let other = EncryptionSecret::generate();
    assert!(matches!(
        env.open(&other, &id),
        Err(ProtocolError::Decryption)
    ));
    let mut bumped = env.clone();
    bumped.version += 1;
    assert!(matches!(
        bumped.open(&secret, &id),
        Err(ProtocolError::Decryption)
    ));
}

#[test]
fn seal_refuses_out_of_range_versions() {
    let (secret, id, _) = sample();
    for v in [0, MAX_VERSION + 1, u64::MAX] {
        assert!(matches!(
            Envelope::seal(&secret, &id, v, b"x"),
            Err(ProtocolError::InvalidEnvelope(_))
        ));
    }
    assert!(Envelope::seal(&secret, &id, MAX_VERSION, b"x").is_ok());
}

#[test]
fn parse_is_strict() {
    let (_, _, env) = sample();
    let good = env.to_json();
    let invalid_envelope = |v: Value| match Envelope::parse(&v) {
        Err(ProtocolError::InvalidEnvelope(msg)) => msg,
        other => panic!("{v}: {other:?}"),
    };
    assert!(invalid_envelope(json!("x")).contains("object"));
    assert!(invalid_envelope(with(good.clone(), "note", json!("hi"))).contains("unexpected"));
    for key in ["v", "alg", "agent_id", "version", "iv", "ct"] {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(key);
        assert!(invalid_envelope(v).contains(key), "{key}");
    }
    for version in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("3"),
        json!(MAX_VERSION + 1),
    ] {
        assert!(invalid_envelope(with(good.clone(), "version", version)).contains("version"));
    }
    assert!(Envelope::parse(&with(good.clone(), "version", json!(MAX_VERSION))).is_ok());
    assert!(invalid_envelope(with(good.clone(), "v", json!("1"))).contains('v'));
    assert!(invalid_envelope(with(good.clone(), "alg", json!(256))).contains("alg"));
    assert!(invalid_envelope(with(good.clone(), "iv", json!(1))).contains("iv"));
}

#[test]
fn parse_error_variants() {
    let (_, _, env) = sample();
    let good = env.to_json();
    let err =
        |key: &str, value: Value| Envelope::parse(&with(good.clone(), key, value)).unwrap_err();
    assert!(matches!(
        err("v", json!(2)),
        ProtocolError::UnsupportedEnvelopeVersion
    ));
    assert!(matches!(
        err("v", json!(0)),
        ProtocolError::UnsupportedEnvelopeVersion
    ));
    assert!(matches!(
        err("alg", json!("a256gcm")),
        ProtocolError::UnsupportedAlgorithm
    ));
    assert!(matches!(
        err("agent_id", json!("NOT-AN-ID")),
        ProtocolError::InvalidId
    ));
    assert!(matches!(
        err("iv", json!(b64u::encode(&[0; 16]))),
        ProtocolError::IvLength
    ));
    assert!(matches!(
        err("iv", json!("IqX+Hh/fVIJ+2NzV")),
        ProtocolError::Base64(_)
    ));
    assert!(matches!(
        err("ct", json!(b64u::encode(&[0; 15]))),
        ProtocolError::CiphertextTooShort
    ));
    assert!(matches!(
        err("ct", json!("")),
        ProtocolError::CiphertextTooShort
    ));
    assert!(matches!(err("ct", json!("QR")), ProtocolError::Base64(_)));
    let v2 = with(with(good.clone(), "v", json!(2)), "extra", json!(1));
    assert!(matches!(
        Envelope::parse(&v2),
        Err(ProtocolError::UnsupportedEnvelopeVersion)
    ));
}

#[test]
fn config_aad_and_key_bind_the_agent() {
    let secret = EncryptionSecret::from_bytes([5; 32]);
    let (a, b) = (AgentId::new_v4(), AgentId::new_v4());
    assert_ne!(*config_key(&secret, &a), *config_key(&secret, &b));
    assert_eq!(
        config_aad(&a, 12),
        format!("openclaw-fleet/config/v1|{a}|12")
    );
}
