//! `openclaw-fleet-ctl dashboard`: the dashboard served on 127.0.0.1 from the files
//! compiled into this binary (the `openclaw-fleet-web` crate, the same list the server
//! embeds), with `/api/*` forwarded to the fleet server. The code that sees the master
//! key then comes from the binary the operator installed, not from the server.
//!
//! The browser's origin is `http://127.0.0.1:PORT`. The forwarder makes the server's
//! CSRF check pass on purpose (it sends the server's own origin), so it must be the
//! CSRF guard itself: every request must name this listener in `Host` (DNS rebinding
//! sends another name), and an API call must come from this origin (`Sec-Fetch-Site`
//! same-origin or absent, `Origin` equal to ours when present, and present on writes).
//! Another page in the browser can then neither read nor write through it.
//!
//! One path is answered here rather than from the embedded files or the server:
//! [`LOCAL_INFO`] names the server, so the install commands the dashboard shows point
//! agents at the server, not at 127.0.0.1.

mod forward;
pub mod verify;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use crate::error::{CtlError, Result};
use crate::server_url::ServerUrl;

/// What every request handler needs.
#[derive(Clone)]
struct Local {
    /// `127.0.0.1:PORT`: the only `Host` accepted.
    authority: Arc<str>,
    /// `http://127.0.0.1:PORT`: the only `Origin` accepted.
    origin: Arc<str>,
    upstream: ServerUrl,
    upstream_origin: Arc<str>,
    http: reqwest::Client,
}

/// The bound local dashboard, not yet serving.
pub struct Dashboard {
    listener: tokio::net::TcpListener,
    local: Local,
}

impl Dashboard {
    /// Binds 127.0.0.1:`port` (0: a free port). `http` must not follow redirects.
    pub async fn bind(port: u16, upstream: ServerUrl, http: reqwest::Client) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| CtlError::io(format!("cannot listen on 127.0.0.1:{port}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CtlError::io("cannot read the listening address", e))?;
        let authority = format!("127.0.0.1:{}", addr.port());
        Ok(Self {
            listener,
            local: Local {
                origin: format!("http://{authority}").into(),
                authority: authority.into(),
                upstream_origin: upstream.origin().into(),
                upstream,
                http,
            },
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.local.origin
    }

    /// Serves until `shutdown` resolves and every open request (an event stream
    /// included) has ended; drop the future to stop at once.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let app = Router::new().fallback(handle).with_state(self.local);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| CtlError::io("the local dashboard stopped", e))
    }
}

async fn handle(State(local): State<Local>, req: Request) -> Response {
    let path = req.uri().path();
    let is_api = path == "/api" || path.starts_with("/api/");
    let response = if !host_is(&local, req.headers()) {
        refuse("the Host header does not name this local dashboard")
    } else if path == LOCAL_INFO {
        local_info(&local)
    } else if is_api {
        match same_origin(&local, req.method(), req.headers()) {
            Ok(()) => forward::forward(&local, req).await,
            Err(why) => refuse(why),
        }
    } else {
        static_file(req.method(), path)
    };
    with_security_headers(response)
}

/// Answered here, never by the server (which has no such file): the server this page's
/// API calls go to, for what the dashboard shows agents (`web/js/server-url.js`).
pub const LOCAL_INFO: &str = "/local-dashboard.json";

fn local_info(local: &Local) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json!({ "server": local.upstream.as_str() }).to_string(),
    )
        .into_response()
}

fn host_is(local: &Local, headers: &HeaderMap) -> bool {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(&local.authority))
}

/// Whether an API call comes from this dashboard's own pages.
fn same_origin(local: &Local, method: &Method, headers: &HeaderMap) -> Result<(), &'static str> {
    let text = |name: HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if let Some(site) = text(HeaderName::from_static("sec-fetch-site")) {
        if site != "same-origin" && site != "none" {
            return Err(
                "cross-origin request refused: only this dashboard's pages may call the API",
            );
        }
    }
    match text(header::ORIGIN) {
        Some(origin) if origin != &*local.origin => {
            Err("cross-origin request refused: Origin is not this local dashboard")
        }
        None if !matches!(*method, Method::GET | Method::HEAD) => {
            Err("cross-origin request refused: a change must carry this dashboard's Origin")
        }
        _ => Ok(()),
    }
}

fn static_file(method: &Method, path: &str) -> Response {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    match openclaw_fleet_web::lookup(path) {
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

/// A refusal in the server's error shape (`{error, message}`).
fn refuse(message: &str) -> Response {
    json_error(StatusCode::FORBIDDEN, "cross_origin_refused", message)
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": code, "message": message }).to_string(),
    )
        .into_response()
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in openclaw_fleet_web::SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}
