//! Accounts: status, register, login, logout, me (SPEC §7).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{AppState, Owner, UserView};
use crate::auth::SESSION_COOKIE;
use crate::client_addr::ClientAddr;
use crate::error::ApiResult;
use crate::json::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(
        max_length = 254,
        pattern = "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+@[^.@\\s\\u0000-\\u001f\\u007f-\\u009f][^\\s\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub email: String,
    /// At least 12 characters (at most 1024 bytes).
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuthStatus {
    pub has_users: bool,
    pub registration_open: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    pub user: UserView,
}

#[derive(Serialize, ToSchema)]
pub struct LoggedIn {
    /// Session token; also usable as `Authorization: Bearer`.
    pub token: String,
    pub user: UserView,
}

/// Whether an account exists and whether registration is open.
#[utoipa::path(get, path = "/api/auth/status", tag = "auth", security(), responses((status = 200, body = AuthStatus)))]
pub async fn status(State(state): State<AppState>) -> ApiResult<Json<AuthStatus>> {
    let (has_users, registration_open) = state.public().status().await?;
    Ok(Json(AuthStatus {
        has_users,
        registration_open,
    }))
}

/// Creates an account: the first one while none exists, later ones only when open.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", security(), request_body = Credentials,
    responses((status = 201, body = Registered), (status = 400, body = super::ErrorBody),
              (status = 403, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let user = state
        .public()
        .register(&body.email, &body.password, false)
        .await?;
    Ok((StatusCode::CREATED, Json(Registered { user })))
}

/// Logs in: a session token and an HttpOnly, SameSite=Strict cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", security(), request_body = Credentials,
    responses((status = 200, body = LoggedIn), (status = 401, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<Response> {
    // No account has control characters in its email (registration refuses them), and
    // some databases refuse to even compare a NUL: answer as for any unknown account.
    if body.email.chars().any(char::is_control) {
        return Err(crate::error::ApiError::InvalidCredentials);
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let session = state
        .public()
        .login(&body.email, &body.password, ip, user_agent)
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        session.token.as_str(),
        session.max_age,
        if secure(&state, &headers) {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = Json(LoggedIn {
        token: session.token.to_string(),
        user: session.user,
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Whether the client reached us over TLS: built-in HTTPS, an `https://` public URL, or
/// a proxy that says so.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings().https()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "logged out"), (status = 401, body = super::ErrorBody)))]
pub async fn logout(owner: Owner) -> ApiResult<Response> {
    owner.logout().await?;
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: UserView,
    /// This session's public id, as the config history and activity log name it.
    pub session_id: String,
}

/// The logged-in account, and the id of this session.
#[utoipa::path(get, path = "/api/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = super::ErrorBody)))]
pub async fn me(owner: Owner) -> Json<Me> {
    Json(Me {
        user: owner.user(),
        session_id: owner.session_id(),
    })
}
