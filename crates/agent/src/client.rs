//! The HTTP client of the fleet API (SPEC §2–3), kept apart from the loop
//! that drives it. It never follows redirects (a bearer token must not be
//! carried elsewhere), caps every answer's size, and turns the server's
//! `{"error": code}` answers into typed errors carrying only the code.

use std::path::Path;
use std::time::Duration;

use openclaw_fleet_protocol::{
    AgentId, ConfigResponse, HandshakeResponse, HeartbeatRequest, HeartbeatResponse,
};
use reqwest::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroizing;

/// Largest answer read: configs are at most 64 KiB, everything else smaller.
const MAX_ANSWER: usize = 1 << 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Server-side wait of a config long-poll (SPEC §3 allows up to 60 s).
pub const LONG_POLL_WAIT: u64 = 30;

/// An agent bearer token. No Debug, no Display.
pub struct Token(Zeroizing<String>);

impl Token {
    pub fn new(token: String) -> Self {
        Self(Zeroizing::new(token))
    }

    fn header(&self) -> Result<HeaderValue, ClientError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0.as_str()))
            .map_err(|_| ClientError::Protocol("the server issued an unusable token".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    pub fn same_as(&self, other: &Token) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Clone for Token {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// An error answer. `code` is the server's short code, sanitized.
    #[error("server answered {status} {code}")]
    Api {
        status: u16,
        code: String,
        server_time: Option<u64>,
        retry_after: Option<Duration>,
    },
    /// An answer that does not follow the API.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The server's `server_time` is further from this host's clock than the
    /// agent corrects by itself; nothing was signed for the server's time.
    #[error(
        "this host's clock is off by {skew:+} s from the server's (more than the {bound} s \
         corrected automatically, OPENCLAW_FLEET_MAX_CLOCK_CORRECTION); fix this host's clock \
         (e.g. enable NTP)"
    )]
    ClockSkew { skew: i64, bound: u64 },
    /// The client cannot be set up (e.g. an unreadable CA file).
    #[error("{0}")]
    Setup(String),
    /// The server refused the enrollment token, and this key does not
    /// handshake either.
    #[error(
        "the server refused the enrollment: the enrollment token is wrong, spent or expired, or \
         the agent was deleted or is not an Ed25519 agent; issue a new enrollment token for this \
         agent in the dashboard and set it in OPENCLAW_FLEET_ENROLLMENT_TOKEN"
    )]
    EnrollmentRefused,
}

impl ClientError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Api { status: 401, .. })
    }

    /// Worth retrying soon: no answer, a 5xx, or rate limiting.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Api { status, .. } => *status >= 500 || *status == 429,
            Self::Protocol(_)
            | Self::ClockSkew { .. }
            | Self::Setup(_)
            | Self::EnrollmentRefused => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

pub struct FleetClient {
    http: reqwest::Client,
    base: Url,
}

impl FleetClient {
    /// A client for `base` that trusts the operating system's root certificates and,
    /// when given, the CA certificates in `ca_file` (PEM; `OPENCLAW_FLEET_CA_FILE`).
    pub fn new(base: Url, ca_file: Option<&Path>) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("openclaw-fleet-agent/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .tls_built_in_webpki_certs(false)
            .tls_built_in_native_certs(true);
        if let Some(path) = ca_file {
            for cert in read_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Setup(format!("HTTP client: {e}")))?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    pub async fn handshake(&self, body: &Value) -> Result<HandshakeResponse, ClientError> {
        let req = self.http.post(self.url("/api/agents/handshake")).json(body);
        send(req, REQUEST_TIMEOUT).await
    }

    /// `POST /api/agents/enroll`; its answer carries nothing the agent needs.
    pub async fn enroll(&self, body: &Value) -> Result<(), ClientError> {
        let req = self.http.post(self.url("/api/agents/enroll")).json(body);
        send::<serde::de::IgnoredAny>(req, REQUEST_TIMEOUT)
            .await
            .map(|_| ())
    }

    pub async fn heartbeat(
        &self,
        token: &Token,
        body: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ClientError> {
        let req = self
            .http
            .post(self.url("/api/heartbeat"))
            .header(AUTHORIZATION, token.header()?)
            .json(body);
        send(req, REQUEST_TIMEOUT).await
    }

    /// The stored config; with `wait`, long-polls until a version above
    /// `after` is stored or `wait` seconds pass.
    pub async fn config(
        &self,
        token: &Token,
        agent: &AgentId,
        after: u64,
        wait: Option<u64>,
    ) -> Result<ConfigResponse, ClientError> {
        let mut url = self.url(&format!("/api/agents/{agent}/config"));
        url.query_pairs_mut()
            .append_pair("after_version", &after.to_string());
        if let Some(wait) = wait {
            url.query_pairs_mut().append_pair("wait", &wait.to_string());
        }
        let timeout = REQUEST_TIMEOUT + Duration::from_secs(wait.unwrap_or(0));
        let req = self
            .http
            .request(Method::GET, url)
            .header(AUTHORIZATION, token.header()?);
        send(req, timeout).await
    }
}

async fn send<T: DeserializeOwned>(
    req: RequestBuilder,
    timeout: Duration,
) -> Result<T, ClientError> {
    let mut resp = req
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(describe(&e)))?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ClientError::Unreachable(describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(ClientError::Protocol("answer larger than 1 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        // serde's message may quote a value from the answer (a token, say):
        // report only where the answer broke the API.
        return serde_json::from_slice(&body).map_err(|e| {
            ClientError::Protocol(format!(
                "{status} answer does not match the API ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        });
    }
    Err(api_error(status, &body, retry_after))
}

fn api_error(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> ClientError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| parsed.as_ref().and_then(|v| v.get(k));
    let code = field("error")
        .and_then(Value::as_str)
        .map(sanitize_code)
        .unwrap_or_else(|| "no_error_code".to_owned());
    ClientError::Api {
        status: status.as_u16(),
        code,
        server_time: field("server_time").and_then(Value::as_u64),
        retry_after,
    }
}

/// Error codes are `[a-z0-9_]`; anything else a server sends is cut, so a
/// hostile answer cannot smuggle text into the agent's log.
fn sanitize_code(code: &str) -> String {
    code.chars()
        .take(64)
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect()
}

/// The certificates of a CA file, or an error naming the file and the setting.
fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let bad = |why: String| {
        ClientError::Setup(format!(
            "{} {}: {why}",
            crate::settings::ENV_CA_FILE,
            path.display()
        ))
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read ({})", e.kind())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| bad("is not a PEM certificate file".into()))?;
    if certs.is_empty() {
        return Err(bad("holds no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// A short reason without the request's URL (which names the agent id only,
/// but is noise in every log line).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection broken while reading"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else if is_untrusted_certificate(&detail) {
        format!(
            "{kind}: the server's TLS certificate is not trusted ({detail}); if a private CA \
             signed it, set {} to that CA's PEM file",
            crate::settings::ENV_CA_FILE
        )
    } else {
        format!("{kind} ({detail})")
    }
}

/// rustls's words for a chain that does not end at a trusted root.
fn is_untrusted_certificate(detail: &str) -> bool {
    detail.contains("UnknownIssuer") || detail.contains("invalid peer certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_sanitized_and_fields_read() {
        let body = br#"{"error":"timestamp_out_of_window","message":"x","server_time":1764326401}"#;
        match api_error(StatusCode::UNAUTHORIZED, body, None) {
            ClientError::Api {
                status,
                code,
                server_time,
                ..
            } => {
                assert_eq!(
                    (status, code.as_str(), server_time),
                    (401, "timestamp_out_of_window", Some(1764326401))
                );
            }
            other => panic!("{other}"),
        }
        assert_eq!(sanitize_code("bad\ncode Injected"), "badcodenjected");
        let plain = api_error(StatusCode::BAD_GATEWAY, b"<html>", None);
        assert!(plain.is_transient());
        assert_eq!(plain.to_string(), "server answered 502 no_error_code");
    }

    #[tokio::test]
    async fn a_malformed_answer_is_reported_without_its_values() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let body = r#"{"token":"tok-sensitive","expires_in":"tok-sensitive"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(answer.as_bytes()).await.unwrap();
        });
        let c = FleetClient::new(Url::parse(&format!("http://{addr}")).unwrap(), None).unwrap();
        let err = c.handshake(&serde_json::json!({})).await.err().unwrap();
        assert!(matches!(err, ClientError::Protocol(_)), "{err}");
        assert!(!err.to_string().contains("tok-sensitive"), "{err}");
    }

    #[test]
    fn urls_keep_a_base_path() {
        let c = FleetClient::new(Url::parse("https://h.example/fleet/").unwrap(), None).unwrap();
        assert_eq!(
            c.url("/api/heartbeat").as_str(),
            "https://h.example/fleet/api/heartbeat"
        );
        let c = FleetClient::new(Url::parse("http://127.0.0.1:9").unwrap(), None).unwrap();
        assert_eq!(c.url("/api/x").as_str(), "http://127.0.0.1:9/api/x");
    }
}
