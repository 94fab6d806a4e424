//! CSRF: a write authenticated by the session cookie must come from this server's own
//! pages. Browsers send `Origin` on every cross-origin request and on same-origin
//! non-GET requests, so we require it to equal the server's origin: the configured
//! public URL, or else `http(s)://<Host>` — but only `https://` when the request came
//! over TLS (a TLS-terminating proxy says so in `X-Forwarded-Proto`, which a cross-site
//! page cannot set), so a page injected into plain-HTTP traffic cannot write through a
//! browser's HTTPS session. Bearer-token requests are not exposed to CSRF (a browser
//! never attaches them by itself) and skip this check.

use axum::http::{header, HeaderMap, Method};

pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request's `Origin` names this server.
pub fn origin_allowed(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if let Some(public) = public_url {
        return origin.eq_ignore_ascii_case(public.trim_end_matches('/'));
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let over_tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let origin_host = match origin.strip_prefix("https://") {
        Some(h) => Some(h),
        None if over_tls => None,
        None => origin.strip_prefix("http://"),
    };
    origin_host.is_some_and(|h| h.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_only() {
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            None
        ));
        assert!(!origin_allowed(
            &headers(Some("http://evil.example"), "127.0.0.1:8080"),
            None
        ));
        assert!(!origin_allowed(&headers(None, "127.0.0.1:8080"), None));
        assert!(!origin_allowed(
            &headers(Some("null"), "127.0.0.1:8080"),
            None
        ));
        let mut h = headers(Some("http://fleet.example.com"), "fleet.example.com");
        assert!(origin_allowed(&h, None));
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(
            !origin_allowed(&h, None),
            "plain-HTTP page writing over TLS"
        );
        h.insert(header::ORIGIN, "https://fleet.example.com".parse().unwrap());
        assert!(origin_allowed(&h, None));
        let h = headers(Some("https://fleet.example.com"), "10.0.0.1:8080");
        assert!(origin_allowed(&h, Some("https://fleet.example.com/")));
        assert!(!origin_allowed(&h, Some("https://other.example.com")));
    }
}
