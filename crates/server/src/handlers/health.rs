//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::access::AppState;

/// Liveness: the process answers. Does no I/O (also the benchmarks' no-op baseline).
#[utoipa::path(get, path = "/healthz", tag = "health", security(), responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and the server is not draining for a restart.
#[utoipa::path(get, path = "/readyz", tag = "health", security(),
    responses((status = 200, description = "ready"),
              (status = 503, description = "draining for a restart, or database unavailable")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.ready().await {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        let status = if state.draining() {
            "draining"
        } else {
            "unavailable"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": status })),
        )
    }
}
