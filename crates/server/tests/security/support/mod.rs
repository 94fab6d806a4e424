//! What the attacks share: the operations of the OpenAPI document, two owners with
//! real objects, valid bodies for every body-taking operation, and database dumps
//! to prove that a refused request stored nothing.

pub mod bodies;
pub mod db;
pub mod openapi;
pub mod world;

use reqwest::Method;
use serde_json::Value;

use crate::common::{Resp, TestApp};

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Cred {
    None,
    Bearer(String),
    /// The session cookie, with this `Origin` header (or none).
    Cookie {
        token: String,
        origin: Option<String>,
    },
}

/// Sends `method path` with `cred` and an optional JSON body.
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    cred: &Cred,
    body: Option<&Value>,
) -> Resp {
    let mut rb = app.client.request(method, app.url(path));
    match cred {
        Cred::None => {}
        Cred::Bearer(t) => rb = rb.bearer_auth(t),
        Cred::Cookie { token, origin } => {
            rb = rb.header("cookie", format!("ocf_session={token}"));
            if let Some(o) = origin {
                rb = rb.header("origin", o);
            }
        }
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    app.send(rb).await
}

/// Asserts the SPEC §0 error shape on a 4xx answer: JSON `{error, message}`.
#[track_caller]
pub fn assert_client_error(r: &Resp, what: &str) {
    let status = r.status.as_u16();
    assert!(
        (400..500).contains(&status),
        "{what}: expected a 4xx answer, got {status}: {}",
        r.text
    );
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "{what}: {status} answer is not JSON ({ct}): {}",
        r.text
    );
    assert!(
        r.json["error"].as_str().is_some_and(|e| !e.is_empty())
            && r.json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {status} answer without error/message: {}",
        r.text
    );
}

/// The process still answers its liveness probe.
pub async fn assert_alive(app: &TestApp, after: &str) {
    let r = app.get("/healthz", "").await;
    assert_eq!(r.status.as_u16(), 200, "/healthz after {after}: {}", r.text);
}

/// A client whose connections come from loopback address number `n` (127.0.x.y, never
/// 127.0.0.1): rate limits are per client address.
pub fn client_at(n: u16) -> reqwest::Client {
    let [hi, lo] = (n + 2).to_be_bytes();
    let ip = std::net::Ipv4Addr::new(127, 0, hi.max(1), lo);
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(ip))
        .build()
        .expect("client")
}
