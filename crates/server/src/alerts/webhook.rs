//! Webhook payloads and their delivery.
//!
//! Every request carries `X-OpenClaw-Fleet-Signature: t=<unix>,v1=<hex>`, the
//! HMAC-SHA256 under the rule's signing secret of `<t>.<body>`: a receiver recomputes it,
//! compares in constant time and refuses a `t` too far from its clock (a replay). The
//! generic body is JSON facts; Slack gets `{"text"}`, Discord `{"content"}` (mentions
//! disabled). A URL is a secret (Slack and Discord URLs embed a token): only its host is
//! ever logged or stored in plaintext, and errors are fixed phrases, never reqwest's
//! (which name the URL).
//!
//! The address guard: unless `alert_webhooks_allow_private` is set, the host must resolve
//! only to public addresses (no loopback, private, link-local, CGNAT, ULA, multicast,
//! unspecified), and the request goes to exactly the addresses checked (no second DNS
//! answer, no redirect, no proxy), so a rule cannot make the server probe its own
//! network.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::engine::{Event, Notice};
use super::WebhookKind;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-openclaw-fleet-signature";
/// Attempts per notice at most (the first and up to four retries).
pub const MAX_ATTEMPTS: u32 = 5;
/// The wait before the first retry; doubled for each next one.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// One attempt's time limit.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// URLs longer than this are refused.
pub const MAX_URL_LEN: usize = 2048;

/// A URL an owner gave: http(s), a host, no fragment. Returns its host.
pub fn check_url(url: &str) -> Result<String, &'static str> {
    if url.len() > MAX_URL_LEN {
        return Err("the webhook URL is longer than 2048 characters");
    }
    let parsed = url::Url::parse(url).map_err(|_| "the webhook URL is not a valid URL")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the webhook URL must start with https:// or http://");
    }
    if parsed.fragment().is_some() {
        return Err("the webhook URL must not have a #fragment");
    }
    match parsed.host_str() {
        Some(h) if !h.is_empty() => Ok(h.to_owned()),
        _ => Err("the webhook URL has no host"),
    }
}

/// The signature header's value for `body` sent at `t`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Slack's mrkdwn control characters, escaped as Slack asks.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The body for `notice` about the agent named `agent_name`.
pub fn body(kind: WebhookKind, n: &Notice, agent_name: Option<&str>) -> Vec<u8> {
    let rule = &n.rule;
    let what = rule.condition.describe(rule, n.value);
    let agent = agent_name.unwrap_or(&n.agent_id);
    let text = match n.event {
        Event::Firing => format!("[FIRING] {}: {agent}: {what}", rule.name),
        Event::Resolved => format!("[RESOLVED] {}: {agent}: {what}", rule.name),
    };
    let value = match kind {
        WebhookKind::Generic => json!({
            "type": "openclaw_fleet.alert",
            "event": n.event.as_str(),
            "rule": {
                "id": rule.id,
                "name": rule.name,
                "condition": rule.condition.as_str(),
                "threshold": rule.condition.has_threshold().then_some(rule.threshold),
                "minutes": rule.condition.has_duration().then_some(rule.for_secs / 60),
                "fleet_id": rule.fleet_id,
            },
            "agent": { "id": n.agent_id, "name": agent_name },
            "since": n.since,
            "at": n.at,
            "value": n.value,
            "summary": text,
        }),
        WebhookKind::Slack => json!({ "text": slack_escape(&text) }),
        WebhookKind::Discord => json!({
            "content": text,
            "allowed_mentions": { "parse": [] },
        }),
    };
    serde_json::to_vec(&value).expect("JSON values serialize")
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The last HTTP status received, if any.
    pub status: Option<u16>,
    /// Why it failed (a fixed phrase), `None` on a 2xx.
    pub error: Option<&'static str>,
    pub attempts: u32,
}

/// Whether an address is one a webhook may not reach without the opt-in.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The addresses to send to: every resolved one must pass the guard.
async fn resolve(url: &url::Url, allow_private: bool) -> Result<Vec<SocketAddr>, &'static str> {
    let host = url.host_str().ok_or("invalid URL")?;
    let port = url.port_or_known_default().ok_or("invalid URL")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| "host name did not resolve")?
        .collect();
    if addrs.is_empty() {
        return Err("host name did not resolve");
    }
    if !allow_private && addrs.iter().any(|a| is_private(a.ip())) {
        return Err("target address not allowed (private or local network)");
    }
    Ok(addrs)
}

/// One attempt: the status, or a fixed phrase.
async fn attempt(
    url: &url::Url,
    body: &[u8],
    sig: &str,
    allow_private: bool,
) -> Result<u16, &'static str> {
    let addrs = resolve(url, allow_private).await?;
    let host = url.host_str().ok_or("invalid URL")?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .resolve_to_addrs(host, &addrs)
        .user_agent(concat!("openclaw-fleet/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| "HTTP client unavailable")?;
    let resp = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sig)
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            }
        })?;
    Ok(resp.status().as_u16())
}

/// Sends `body` to `url`, signing each attempt at the time `now()` gives, retrying
/// network errors, 429 and 5xx with exponential backoff up to [`MAX_ATTEMPTS`].
pub async fn deliver(
    url: &str,
    secret: &[u8],
    body: &[u8],
    allow_private: bool,
    now: impl Fn() -> i64,
) -> Outcome {
    let Ok(url) = url::Url::parse(url) else {
        return Outcome {
            status: None,
            error: Some("invalid URL"),
            attempts: 0,
        };
    };
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sig = signature(secret, now(), body);
        let (status, error, retry) = match attempt(&url, body, &sig, allow_private).await {
            Ok(s) if (200..300).contains(&s) => (Some(s), None, false),
            Ok(s) => (
                Some(s),
                Some("the receiver answered with an error status"),
                s == 429 || s >= 500,
            ),
            Err(e) => (
                None,
                Some(e),
                e != "target address not allowed (private or local network)",
            ),
        };
        if !retry || attempts >= MAX_ATTEMPTS {
            return Outcome {
                status,
                error,
                attempts,
            };
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_t_dot_body() {
        // RFC 4231-style check against an independent computation of the same bytes.
        let sig = signature(b"key", 1700000000, b"{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1700000000.{}");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sig, format!("t=1700000000,v1={want}"));
        assert_ne!(signature(b"key", 1700000001, b"{}"), sig);
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            check_url("https://hooks.slack.com/services/T/B/x"),
            Ok("hooks.slack.com".into())
        );
        assert!(check_url("ftp://example.com/").is_err());
        assert!(check_url("https://example.com/#x").is_err());
        assert!(check_url("not a url").is_err());
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(2100))).is_err());
    }

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
