//! The fleet server's base URL, parsed once: `http` or `https`, no query,
//! no fragment, no credentials, no trailing slash. Plain HTTP is accepted only
//! for loopback addresses unless the operator insists, because a login sends
//! the account password and the session token travels with every call.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use crate::error::{CtlError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(String);

impl ServerUrl {
    pub fn parse(text: &str, allow_http: bool) -> Result<Self> {
        let bad = |why: &str| CtlError::usage(format!("invalid server URL: {why}"));
        let url = Url::parse(text.trim()).map_err(|_| bad("expected http(s)://host[:port]"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if url.host_str().is_none() {
            return Err(bad("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials do not belong in the URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it may not have a query or fragment"));
        }
        if url.scheme() == "http" && !allow_http && !is_loopback(&url) {
            return Err(CtlError::usage(
                "refusing plain http:// to a remote server: the password and session token \
                 would cross the network in the clear. Use https://, or pass --allow-http",
            ));
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin (`scheme://host[:port]`) a browser on this server's own pages sends
    /// in `Origin`.
    pub fn origin(&self) -> String {
        Url::parse(&self.0)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses() {
        let ok = |s: &str| ServerUrl::parse(s, false).unwrap().as_str().to_owned();
        assert_eq!(
            ok("https://fleet.example.com/"),
            "https://fleet.example.com"
        );
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(ok("http://localhost:1/"), "http://localhost:1");
        assert_eq!(ok("http://[::1]:9/"), "http://[::1]:9");
        assert_eq!(ok("https://h.example/fleet/"), "https://h.example/fleet");
        for bad in [
            "ftp://x",
            "fleet.example.com",
            "https://u:p@x.example",
            "https://x.example/?a=1",
            "http://fleet.example.com",
            "http://10.0.0.1:8080",
        ] {
            assert!(ServerUrl::parse(bad, false).is_err(), "{bad}");
        }
        assert!(ServerUrl::parse("http://fleet.example.com", true).is_ok());
        let origin = |s: &str| ServerUrl::parse(s, false).unwrap().origin();
        assert_eq!(origin("https://h.example/fleet/"), "https://h.example");
        assert_eq!(origin("https://h.example:443"), "https://h.example");
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
