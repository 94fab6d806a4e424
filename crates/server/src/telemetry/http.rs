//! The HTTP side of telemetry: per-route outcome counters and the access log.
//!
//! Both name a request by its route template (`/api/agents/{id}`), never its path, so
//! ids, query strings and tokens never reach a figure or a log line. The access log
//! line holds the method, route, client address, status and latency — nothing of the
//! headers or body.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use super::{names, ErrorCode};
use crate::client_addr::TrustedProxies;

const HANDSHAKE_ROUTE: &str = "/api/agents/handshake";
const HEARTBEAT_ROUTE: &str = "/api/heartbeat";

/// Counts handshakes and heartbeats by outcome, and every 429 by route.
pub async fn count_outcomes(req: Request, next: Next) -> Response<Body> {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let Some(route) = route else {
        return response;
    };
    let counter = match route.as_str() {
        HANDSHAKE_ROUTE => Some(names::HANDSHAKES),
        HEARTBEAT_ROUTE => Some(names::HEARTBEATS),
        _ => None,
    };
    let status = response.status();
    if let Some(counter) = counter {
        metrics::counter!(counter, "outcome" => outcome(&response)).increment(1);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!(names::RATE_LIMITED, "route" => route.as_str().to_owned()).increment(1);
    }
    response
}

/// `accepted`, the API error code, or the status class when the answer carries none.
fn outcome(response: &Response<Body>) -> &'static str {
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        return code;
    }
    match response.status().as_u16() {
        200..=299 => "accepted",
        400..=499 => "client_error",
        _ => "server_error",
    }
}

/// Opens the `http` span: method, route template and client address (the peer, or what
/// a trusted proxy reports: `crate::client_addr`).
#[derive(Clone, Default)]
pub struct RequestSpan(TrustedProxies);

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &axum::http::Request<B>) -> Span {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("(static)", MatchedPath::as_str);
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| self.0.client(addr.ip(), req.headers()));
        tracing::info_span!(
            target: "access",
            "http",
            method = %req.method(),
            route = %route,
            client = client.map(tracing::field::display),
        )
    }
}

/// Writes the access log line when the answer is ready.
#[derive(Clone, Copy, Default)]
pub struct ResponseLine;

impl<B> OnResponse<B> for ResponseLine {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        tracing::info!(
            target: "access",
            status = response.status().as_u16(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request"
        );
    }
}

/// The access log layer (target `access`; silence it with `OPENCLAW_FLEET_LOG=info,access=off`).
pub fn access_log(
    proxies: TrustedProxies,
) -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), ResponseLine, (), (), ()>
{
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan(proxies))
        .on_request(())
        .on_response(ResponseLine)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}
