//! `GET /metrics`: the Prometheus scrape. On the main listener it needs the scrape token
//! (`Authorization: Bearer …`, compared in constant time) and answers 404 while none is
//! configured; on the `--metrics-listen` address it is open (that address is meant for
//! the scraper's network only).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::access::AppState;
use crate::error::ApiError;

/// The scrape on the main listener.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = state.settings().metrics_token.as_ref() else {
        return ApiError::NotFound.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let same: bool = Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.expose_secret().as_bytes()))
        .into();
    if !same {
        let mut refused = ApiError::Unauthorized.into_response();
        refused
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return refused;
    }
    render(&state).await
}

/// The scrape on the metrics-only listener.
pub async fn scrape_open(State(state): State<AppState>) -> Response {
    render(&state).await
}

/// Refreshes the gauges that need a look at the store (one grouped count of agents by
/// status, the pool's figures), then renders every figure.
async fn render(state: &AppState) -> Response {
    let Some(handle) = crate::telemetry::handle() else {
        return ApiError::NotFound.into_response();
    };
    if let Err(e) = state.observe_agents().await {
        return e.into_response();
    }
    state.observe_pool();
    crate::telemetry::observe_log();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
