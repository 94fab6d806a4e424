use openclaw_fleet_protocol::{b64u, AgentSecret, EncryptionSecret, ProtocolError};

fn format_err(r: Result<impl Sized, ProtocolError>) -> &'static str {
    match r {
        Err(ProtocolError::SecretFormat(why)) => why,
        Err(e) => panic!("expected SecretFormat, got {e:?}"),
        Ok(_) => panic!("expected SecretFormat, got Ok"),
    }
}

#[test]
fn generated_agent_secrets_parse_strictly() {
    let a = AgentSecret::generate();
    let b = AgentSecret::generate();
    assert_ne!(a.expose_secret(), b.expose_secret());
    assert!(a.expose_secret().starts_with("ocf_as_"));
    assert_eq!(a.expose_secret().len(), 50);
    let parsed = AgentSecret::parse(a.expose_secret()).unwrap();
    assert_eq!(parsed.expose_secret(), a.expose_secret());
}

#[test]
fn strict_agent_secret_rules() {
    let body31 = b64u::encode(&[7u8; 31]);
    let body33 = b64u::encode(&[7u8; 33]);
    let body32 = b64u::encode(&[7u8; 32]);
    assert_eq!(
        format_err(AgentSecret::parse(&body32)),
        "missing ocf_as_ prefix"
    );
    assert_eq!(
        format_err(AgentSecret::parse(&format!("ocf_es_{body32}"))),
        "missing ocf_as_ prefix"
    );
    assert_eq!(
        format_err(AgentSecret::parse(&format!("ocf_as_{body31}"))),
        "must decode to exactly 32 bytes"
    );
    assert_eq!(
        format_err(AgentSecret::parse(&format!("ocf_as_{body33}"))),
        "must decode to exactly 32 bytes"
    );
    assert_eq!(
        format_err(AgentSecret::parse(&format!("ocf_as_{body32}="))),
        "not base64url"
    );
}

#[test]
fn opaque_agent_secret_rules() {
    let uuid = "72fffcbb-4928-45c4-a971-646b8bb38390";
    assert_eq!(
        AgentSecret::from_opaque(uuid.into())
            .unwrap()
            .expose_secret(),
        uuid
    );
    assert!(AgentSecret::from_opaque("x".repeat(256)).is_ok());
    assert_eq!(format_err(AgentSecret::from_opaque(String::new())), "empty");
    assert_eq!(
        format_err(AgentSecret::from_opaque("x".repeat(257))),
        "longer than 256 bytes"
    );
    for bad in ["abc\n", "a\0b", "tab\there", "\u{7f}"] {
        assert_eq!(
            format_err(AgentSecret::from_opaque(bad.into())),
            "contains control characters"
        );
    }
}

#[test]
fn encryption_secret_round_trip() {
    let s = EncryptionSecret::generate();
    assert_ne!(
        s.expose_bytes(),
        EncryptionSecret::generate().expose_bytes()
    );
    let text = s.to_encoded();
    assert!(text.starts_with("ocf_es_") && text.len() == 50);
    let again = EncryptionSecret::parse(&text).unwrap();
    assert_eq!(again.expose_bytes(), s.expose_bytes());
    let fixed = EncryptionSecret::from_bytes([9u8; 32]);
    assert_eq!(fixed.expose_bytes(), &[9u8; 32]);
    assert_eq!(
        fixed.to_encoded().as_str(),
        format!("ocf_es_{}", b64u::encode(&[9u8; 32]))
    );
}

#[test]
fn encryption_secret_rules() {
    let body = b64u::encode(&[1u8; 32]);
    assert!(EncryptionSecret::parse(&format!("ocf_es_{body}")).is_ok());
    for (bad, why) in [
        (body.clone(), "missing ocf_es_ prefix"),
        (format!("ocf_as_{body}"), "missing ocf_es_ prefix"),
        (format!("OCF_ES_{body}"), "missing ocf_es_ prefix"),
        (format!(" ocf_es_{body}"), "missing ocf_es_ prefix"),
        (format!("ocf_es_{body}="), "not base64url"),
        (format!("ocf_es_{body} "), "not base64url"),
        (
            format!("ocf_es_{}", b64u::encode(&[1u8; 31])),
            "must decode to exactly 32 bytes",
        ),
        ("ocf_es_".to_owned(), "must decode to exactly 32 bytes"),
    ] {
        assert_eq!(format_err(EncryptionSecret::parse(&bad)), why, "{bad}");
    }
}
