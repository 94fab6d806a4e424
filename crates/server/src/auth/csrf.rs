//! CSRF: a write authenticated by the session cookie must come from this server's own
//! pages. Browsers send `Origin` on every cross-origin request and on same-origin
//! non-GET requests, so we require it to equal the server's origin: the configured
//! public URL, or else `http(s)://<Host>`. Bearer-token requests are not exposed to CSRF
//! (a browser never attaches them by itself) and skip this check.

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
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
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
        let h = headers(Some("https://fleet.example.com"), "10.0.0.1:8080");
        assert!(origin_allowed(&h, Some("https://fleet.example.com/")));
        assert!(!origin_allowed(&h, Some("https://other.example.com")));
    }
}
