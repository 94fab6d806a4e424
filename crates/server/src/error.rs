//! The server's one error type and its mapping to HTTP answers.
//!
//! Every failure a handler can meet is an [`ApiError`]; the exhaustive match in
//! [`ApiError::status`] is the single place that decides status codes, and every
//! answer has the SPEC §0 shape `{"error", "message"}`. Internal errors are logged
//! by kind only and answered with a fixed text, so no secret can leak through them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the request carried an agent secret in plaintext; it was refused and the owner is told to rotate it")]
    PlaintextSecret,
    #[error("authentication required or invalid")]
    Unauthorized,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("timestamp outside the accepted window")]
    TimestampOutOfWindow { server_time: i64 },
    #[error("this signature was already used")]
    Replayed,
    #[error("cross-site request refused: Origin does not match this server")]
    Csrf,
    #[error("registration is closed")]
    RegistrationClosed,
    #[error("the account password is required for this change")]
    PasswordRequired,
    #[error("wrong account password")]
    WrongPassword,
    #[error("this account is disabled; ask the server's operator")]
    AccountDisabled,
    #[error("not found")]
    NotFound,
    #[error("stored config version is {stored_version}; a new config must be version {}", stored_version + 1)]
    VersionConflict { stored_version: i64 },
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    ConfigNotEncrypted(String),
    #[error("the envelope is for another agent")]
    AgentMismatch,
    #[error("{0}")]
    WeakKdf(String),
    #[error("too many failed attempts; retry later")]
    RateLimited { retry_after: u64 },
    #[error("the database is not available")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidRequest(msg.into())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// Status code and stable error code for each variant.
    pub fn status(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            PlaintextSecret => (StatusCode::BAD_REQUEST, "plaintext_secret_rejected"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            TimestampOutOfWindow { .. } => (StatusCode::UNAUTHORIZED, "timestamp_out_of_window"),
            Replayed => (StatusCode::UNAUTHORIZED, "replayed"),
            Csrf => (StatusCode::FORBIDDEN, "csrf_rejected"),
            RegistrationClosed => (StatusCode::FORBIDDEN, "registration_closed"),
            PasswordRequired => (StatusCode::FORBIDDEN, "password_required"),
            WrongPassword => (StatusCode::FORBIDDEN, "wrong_password"),
            AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
            NotFound => (StatusCode::NOT_FOUND, "not_found"),
            VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
            Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ConfigNotEncrypted(_) => (StatusCode::UNPROCESSABLE_ENTITY, "config_not_encrypted"),
            AgentMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "agent_mismatch"),
            WeakKdf(_) => (StatusCode::UNPROCESSABLE_ENTITY, "weak_kdf"),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(kind = "database", "database unavailable: {err}");
                Self::Unavailable
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        if let ApiError::Internal(err) = &self {
            // sqlx and our own errors never carry secret values; still, log the chain
            // only, never request data.
            tracing::error!(error = %format!("{err:#}"), "internal error");
        }
        let mut body = json!({ "error": code, "message": self.to_string() });
        match &self {
            ApiError::TimestampOutOfWindow { server_time } => {
                body["server_time"] = json!(server_time)
            }
            ApiError::VersionConflict { stored_version } => {
                body["stored_version"] = json!(stored_version)
            }
            _ => {}
        }
        let mut response = (status, axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(crate::telemetry::ErrorCode(code));
        if let ApiError::RateLimited { retry_after } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
