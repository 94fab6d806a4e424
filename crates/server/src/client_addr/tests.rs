use axum::http::{HeaderMap, HeaderValue};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(*name, HeaderValue::from_str(value).unwrap());
    }
    h
}

fn trusted(list: &str) -> TrustedProxies {
    TrustedProxies::parse_list(list).unwrap()
}

#[test]
fn untrusted_peers_are_the_client_whatever_they_claim() {
    let h = headers(&[
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.8"),
    ]);
    assert_eq!(
        TrustedProxies::default().client(ip("198.51.100.1"), &h),
        ip("198.51.100.1")
    );
    assert_eq!(
        trusted("10.0.0.0/8").client(ip("198.51.100.1"), &h),
        ip("198.51.100.1")
    );
}

#[test]
fn a_trusted_proxy_reports_the_client_and_forged_entries_left_of_it_are_ignored() {
    let p = trusted("10.0.0.0/8, 192.168.1.1");
    let peer = ip("10.0.0.2");
    // The client wrote "1.1.1.1"; the proxy appended the real address.
    let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]);
    assert_eq!(p.client(peer, &h), ip("203.0.113.9"));
    // Two trusted hops are skipped, over several header lines.
    let h = headers(&[
        ("x-forwarded-for", "1.1.1.1, 203.0.113.9"),
        ("x-forwarded-for", "192.168.1.1, 10.1.2.3"),
    ]);
    assert_eq!(p.client(peer, &h), ip("203.0.113.9"));
    // Ports, brackets and IPv4-mapped IPv6 are understood.
    let h = headers(&[("x-forwarded-for", "[2001:db8::7]:443, 10.0.0.9:80")]);
    assert_eq!(p.client(peer, &h), ip("2001:db8::7"));
    let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.5")]);
    assert_eq!(p.client(ip("::ffff:10.0.0.2"), &h), ip("203.0.113.5"));
    // No header: the proxy itself.
    assert_eq!(p.client(peer, &HeaderMap::new()), peer);
    // Only trusted hops: the leftmost.
    let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
    assert_eq!(p.client(peer, &h), ip("10.9.9.9"));
}

#[test]
fn an_unreadable_hop_stops_the_walk() {
    let p = trusted("10.0.0.0/8");
    let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.3")]);
    assert_eq!(p.client(ip("10.0.0.2"), &h), ip("10.0.0.3"));
    let h = headers(&[("x-forwarded-for", "garbage")]);
    assert_eq!(p.client(ip("10.0.0.2"), &h), ip("10.0.0.2"));
}

#[test]
fn forwarded_is_read_when_x_forwarded_for_is_absent() {
    let p = trusted("10.0.0.0/8");
    let h = headers(&[(
        "forwarded",
        "for=1.1.1.1, For=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.7;by=10.0.0.1",
    )]);
    assert_eq!(p.client(ip("10.0.0.2"), &h), ip("2001:db8:cafe::17"));
    let h = headers(&[("forwarded", "for=_hidden")]);
    assert_eq!(p.client(ip("10.0.0.2"), &h), ip("10.0.0.2"));
    // With both, X-Forwarded-For (what common proxies maintain) decides.
    let h = headers(&[
        ("forwarded", "for=1.1.1.1"),
        ("x-forwarded-for", "203.0.113.1"),
    ]);
    assert_eq!(p.client(ip("10.0.0.2"), &h), ip("203.0.113.1"));
}

#[test]
fn the_setting_parses_lists_and_text_and_refuses_garbage() {
    assert_eq!(
        trusted(" 10.0.0.1 ,fd00::/8,"),
        trusted("10.0.0.1/32,fd00::/8")
    );
    assert_eq!(trusted(""), TrustedProxies::default());
    let err = TrustedProxies::parse_list("10.0.0.0/8,proxy.local").unwrap_err();
    assert!(err.contains("proxy.local"), "{err}");
    let from_list: TrustedProxies = serde_json::from_str(r#"["10.0.0.0/8", "::1"]"#).unwrap();
    assert_eq!(from_list, trusted("10.0.0.0/8,::1/128"));
    let from_text: TrustedProxies = serde_json::from_str(r#""10.0.0.0/8,::1""#).unwrap();
    assert_eq!(from_text, from_list);
    assert!(serde_json::from_str::<TrustedProxies>(r#"["10.0.0.0/33"]"#).is_err());
    assert_eq!(
        serde_json::to_string(&from_list).unwrap(),
        r#"["10.0.0.0/8","::1/128"]"#
    );
}
