//! The dashboard: static files from `web/`, embedded in the binary through the
//! `openclaw-fleet-web` crate (the one definition the operator CLI shares, so its local
//! dashboard and `verify-dashboard` see the same files), and the security headers every
//! answer carries (a strict CSP with no inline script, no framing).

use axum::http::{header, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

pub use openclaw_fleet_web::CSP;

/// `Strict-Transport-Security` when the server is reached over HTTPS (built-in TLS or an
/// `https://` public URL): one year, no `includeSubDomains` (other hosts of the domain
/// are not ours to commit), no `preload`.
pub const HSTS: &str = "max-age=31536000";

/// Serves a file of the dashboard; unknown paths get the app shell (client routing).
pub async fn static_file(uri: Uri) -> Response {
    match openclaw_fleet_web::lookup(uri.path()) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, asset.cache_control.to_owned()),
            ],
            asset.data,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// Adds the headers every response carries, pages and API alike.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in openclaw_fleet_web::SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}
