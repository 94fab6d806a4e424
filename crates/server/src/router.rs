//! Every route of the server, in one list, with its OpenAPI description collected from
//! the handlers' annotations.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::{Extension, Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::AppState;
use crate::error::ApiError;
use crate::handlers::{
    account, activity, agent_api, agents, alerts, auth, events, fleets, health, history,
    master_key, metrics, ErrorBody,
};
use crate::web;

#[derive(OpenApi)]
#[openapi(
    info(title = "OpenClaw Fleet API", description = "Zero-knowledge control plane for OpenClaw hosts. \
        Owner calls use the session cookie or `Authorization: Bearer <session token>`; agent calls use \
        the agent token from the signed handshake."),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    security(("session" = []))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        for name in ["session", "agent_token"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The complete application.
pub fn build(state: AppState, downloads: Arc<crate::downloads::Downloads>) -> Router {
    let (api_routes, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(auth::status))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(master_key::get, master_key::put))
        .routes(routes!(account::change_password))
        .routes(routes!(account::sessions))
        .routes(routes!(account::end_session))
        .routes(routes!(activity::list))
        .routes(routes!(alerts::list, alerts::create))
        .routes(routes!(alerts::get, alerts::update, alerts::delete))
        .routes(routes!(alerts::deliveries))
        .routes(routes!(fleets::list, fleets::create))
        .routes(routes!(fleets::get, fleets::update, fleets::delete))
        .routes(routes!(agents::list, agents::create))
        .routes(routes!(agents::get, agents::update, agents::delete))
        .routes(routes!(agents::put_wrapped_secret))
        .routes(routes!(agents::put_config))
        .routes(routes!(history::list))
        .routes(routes!(history::get))
        .routes(routes!(agents::rotate_secret))
        .routes(routes!(agents::enrollment_token))
        .routes(routes!(agents::metrics))
        .routes(routes!(agents::policies))
        .routes(routes!(events::stream))
        .routes(routes!(agent_api::handshake))
        .routes(routes!(agent_api::enroll))
        .routes(routes!(agent_api::heartbeat))
        .routes(routes!(agent_api::config))
        .routes(routes!(openapi_json))
        .split_for_parts();
    let mut rendered = serde_json::to_value(&openapi).unwrap_or_default();
    crate::handlers::schemas::complete(&mut rendered);
    let document = OpenApiJson(rendered.to_string().into());

    let api = api_routes
        .layer(Extension(document))
        .route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    let body_limit = state.settings().max_body_bytes;
    let app = api
        .route("/metrics", axum::routing::get(metrics::scrape))
        .merge(downloads.routes())
        .fallback(web::static_file)
        .layer(DefaultBodyLimit::max(body_limit));
    // Browsers reach this server only over HTTPS: tell them to keep it that way.
    let app = if state.settings().https() {
        app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(web::HSTS),
        ))
    } else {
        app
    };
    app.layer(axum::middleware::map_response(web::security_headers))
        .layer(axum::middleware::from_fn(
            crate::telemetry::http::count_outcomes,
        ))
        .layer(crate::telemetry::http::access_log(
            state.settings().trusted_proxies.clone(),
        ))
        .with_state(state)
}

/// The `--metrics-listen` application: `/metrics` without a token, nothing else.
pub fn metrics_only(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics::scrape_open))
        .with_state(state)
}

/// The OpenAPI document, rendered once at start.
#[derive(Clone)]
struct OpenApiJson(Arc<str>);

/// This API's OpenAPI 3.1 description (this document).
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", security(),
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> (axum::http::StatusCode, Json<serde_json::Value>) {
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        Json(
            serde_json::json!({"error": "method_not_allowed", "message": "method not allowed on this route"}),
        ),
    )
}
