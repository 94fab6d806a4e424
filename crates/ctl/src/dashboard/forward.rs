//! Forwarding one API call to the fleet server. Only the headers the dashboard needs
//! cross (an allow-list each way); `Origin` is replaced by the server's own origin
//! (the caller already checked it named this dashboard); cookies pass through without
//! being read or logged, and a `Set-Cookie` loses `Secure` and `Domain`, which would
//! stop the browser from keeping it for `http://127.0.0.1`. Answers are streamed
//! chunk by chunk, so the event stream (`/api/events`) works; request bodies are small
//! JSON documents and are read whole, up to a limit.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use super::{json_error, Local};

/// Larger than any request the server accepts (its default limit is 1 MiB).
const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

const REQUEST_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "cookie",
    "last-event-id",
    "if-none-match",
    "if-modified-since",
];

const RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "retry-after",
    "etag",
    "last-modified",
    "content-disposition",
];

pub(super) async fn forward(local: &Local, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request is too large",
        );
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let mut rb = local
        .http
        .request(parts.method.clone(), local.upstream.join(path));
    for name in REQUEST_HEADERS {
        for value in parts.headers.get_all(*name) {
            rb = rb.header(*name, value);
        }
    }
    if parts.headers.contains_key(header::ORIGIN) {
        rb = rb.header(header::ORIGIN, &*local.upstream_origin);
    }
    let upstream = match rb.body(body).send().await {
        Ok(r) => r,
        Err(_) => {
            return json_error(
                StatusCode::BAD_GATEWAY,
                "server_unreachable",
                "the fleet server could not be reached",
            )
        }
    };
    let mut out = Response::builder().status(upstream.status());
    if let Some(headers) = out.headers_mut() {
        for name in RESPONSE_HEADERS {
            for value in upstream.headers().get_all(*name) {
                headers.append(HeaderName::from_static(name), value.clone());
            }
        }
        for value in upstream.headers().get_all(header::SET_COOKIE) {
            if let Some(v) = value.to_str().ok().map(local_cookie) {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    headers.append(header::SET_COOKIE, v);
                }
            }
        }
    }
    let chunks = futures::stream::unfold(Some(upstream), |state| async move {
        let mut res = state?;
        match res.chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some(res))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    out.body(Body::from_stream(chunks)).unwrap_or_else(|_| {
        json_error(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "the fleet server's answer could not be passed on",
        )
    })
}

/// The server's cookie as the browser must see it on `http://127.0.0.1:PORT`: without
/// `Secure` (the local side is plain HTTP on loopback) and without `Domain` (the
/// server's name is not this host's).
fn local_cookie(cookie: &str) -> String {
    cookie
        .split(';')
        .map(str::trim)
        .enumerate()
        .filter(|(i, attr)| {
            let name = attr.split('=').next().unwrap_or("").trim();
            *i == 0 || !(name.eq_ignore_ascii_case("secure") || name.eq_ignore_ascii_case("domain"))
        })
        .map(|(_, attr)| attr)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::local_cookie;

    #[test]
    fn cookies_lose_secure_and_domain_only() {
        assert_eq!(
            local_cookie("ocf_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure; Domain=fleet.example.com"),
            "ocf_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        assert_eq!(local_cookie("secure=1; Path=/"), "secure=1; Path=/");
    }
}
