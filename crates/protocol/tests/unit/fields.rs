use openclaw_fleet_protocol::{GatewayUrl, Name, PolicyProfile, ProtocolError};

fn refused<T: std::fmt::Debug>(r: Result<T, ProtocolError>, field: &str) {
    match r {
        Err(ProtocolError::InvalidField(msg)) => assert!(msg.starts_with(field), "{msg}"),
        other => panic!("expected InvalidField for {field}: {other:?}"),
    }
}

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(Name::parse("  web 1 ").unwrap().as_str(), "web 1");
    assert_eq!(
        Name::parse(&"é".repeat(100))
            .unwrap()
            .as_str()
            .chars()
            .count(),
        100
    );
    for bad in [
        "",
        "   ",
        "a\u{0}b",
        "tab\there",
        "del\u{7f}",
        "c1\u{85}x",
        &"x".repeat(101),
    ] {
        refused(Name::parse(bad), "name");
    }
}

#[test]
fn gateway_urls_are_http_without_spaces() {
    for ok in ["http://127.0.0.1:18789", "https://gw.example.com/path?q=1"] {
        assert_eq!(GatewayUrl::parse(ok).unwrap().as_str(), ok);
    }
    let long = format!("https://{}", "a".repeat(493));
    assert!(GatewayUrl::parse(&long).is_err());
    assert!(GatewayUrl::parse(&long[..long.len() - 1]).is_ok());
    for bad in [
        "ftp://x",
        "ws://x",
        "https://a b",
        "https://a\nb",
        "",
        "HTTP://x",
        " http://x",
    ] {
        refused(GatewayUrl::parse(bad), "gateway_url");
    }
}

#[test]
fn profiles_are_the_builtin_ones() {
    let ops = PolicyProfile::parse("ops").unwrap();
    assert_eq!(ops.name(), "ops");
    assert_eq!(ops.heartbeat_interval(), 15);
    assert_eq!(ops.policy().name, "ops");
    for bad in ["", "Ops", "root", "dev "] {
        refused(PolicyProfile::parse(bad), "policy_profile");
    }
}
