//! The client's address, decided in one place: the TCP peer, unless the peer is one of
//! the operator's `trusted_proxies`; then the address that proxy reports in
//! `X-Forwarded-For` (or, without it, `Forwarded`), walking the chain from the right and
//! skipping trusted hops. Anything left of the first untrusted hop was written by the
//! client and is ignored, so nobody can choose the address they are counted under.
//! Rate limits, and the access and activity logs, read the address through [`ClientAddr`].

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::access::AppState;
use crate::error::ApiError;

/// The address a request is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no peer address on request")))?;
        Ok(ClientAddr(
            state
                .settings()
                .trusted_proxies
                .client(peer, &parts.headers),
        ))
    }
}

/// The `trusted_proxies` setting: networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of CIDR networks or single addresses.
    pub fn parse_list(text: &str) -> Result<Self, String> {
        Self::parse_items(text.split(','))
    }

    fn parse_items<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in items.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("trusted_proxies: {item:?} is not an IP address or CIDR network")
                })?;
            nets.push(net.trunc());
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            if self.is_empty() && peer.is_loopback() && has_forwarding(headers) {
                warn_once_untrusted_proxy();
            }
            return peer;
        }
        let chain = match forwarded_chain(headers, "x-forwarded-for", parse_xff_entry) {
            Some(chain) => chain,
            None => {
                forwarded_chain(headers, "forwarded", parse_forwarded_element).unwrap_or_default()
            }
        };
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.trusts(client) {
                        break;
                    }
                }
                // An entry that names no address ("unknown", garbage): the hop that
                // reported it is as far as the chain can be believed.
                None => break,
            }
        }
        client
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn has_forwarding(headers: &HeaderMap) -> bool {
    headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded")
}

/// A proxy on this host forwards requests but is not trusted: every client is counted
/// under the proxy's address. Said once, so the operator learns of `trusted_proxies`.
fn warn_once_untrusted_proxy() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "requests from a local proxy carry X-Forwarded-For/Forwarded, but trusted_proxies \
             is empty: every client is counted (and rate limited) under the proxy's address; \
             set trusted_proxies to the proxy's address"
        );
    }
}

/// Every entry of every `name` header line, left to right; `None` without the header.
fn forwarded_chain(
    headers: &HeaderMap,
    name: &str,
    parse: fn(&str) -> Option<IpAddr>,
) -> Option<Vec<Option<IpAddr>>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let mut chain = Vec::new();
    for value in values {
        // A line that is not text cannot be read at all: believe nothing beyond it.
        let Ok(text) = value.to_str() else {
            chain.push(None);
            continue;
        };
        chain.extend(text.split(',').map(parse));
    }
    Some(chain)
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_xff_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// One RFC 7239 element, e.g. `for=192.0.2.60;proto=https;by=203.0.113.43`: its `for`.
fn parse_forwarded_element(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, value)| parse_xff_entry(value))
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    /// A list of strings (TOML), or one comma-separated string (environment variable).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TrustedProxies;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of IP addresses or CIDR networks")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                TrustedProxies::parse_list(text).map_err(E::custom)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                TrustedProxies::parse_items(items.iter().map(String::as_str))
                    .map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests;
