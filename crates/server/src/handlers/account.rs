//! The caller's own account under `/api/me/…`: change the password, list and end
//! sessions. A password change ends every other session; it never touches the master
//! key or any config (those are encrypted under the master key, which the server never
//! had).

use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Owner, SessionView};
use crate::error::ApiResult;
use crate::json::{ApiJson, ApiPath};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
    /// At least 12 characters (at most 1024 bytes).
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    /// How many other sessions were ended.
    pub ended_sessions: u64,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// Changes the account password (the current one is required) and ends every other
/// session of the account. The master key and every config are untouched.
#[utoipa::path(post, path = "/api/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 200, body = PasswordChanged), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody)))]
pub async fn change_password(
    owner: Owner,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<Json<PasswordChanged>> {
    let ended_sessions = owner
        .change_password(&body.current_password, &body.new_password)
        .await?;
    Ok(Json(PasswordChanged { ended_sessions }))
}

/// The account's unexpired sessions, newest first; `current` marks this one.
#[utoipa::path(get, path = "/api/me/sessions", tag = "auth",
    responses((status = 200, body = SessionList), (status = 401, body = super::ErrorBody)))]
pub async fn sessions(owner: Owner) -> ApiResult<Json<SessionList>> {
    Ok(Json(SessionList {
        sessions: owner.sessions().await?,
    }))
}

/// Ends one of the account's sessions (404 for any other id).
#[utoipa::path(delete, path = "/api/me/sessions/{id}", tag = "auth", params(("id" = String, Path)),
    responses((status = 204, description = "ended"), (status = 401, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn end_session(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    owner.end_session(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
