//! JSON request bodies with SPEC §0 errors: malformed JSON, wrong types and missing
//! fields answer 400 `invalid_request` (the message names the place, never echoes
//! values, which might be secrets), oversized bodies 413, a missing content type 415.
//! Query strings and path parameters are refused in the same JSON shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

fn map_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonDataError(e) => ApiError::invalid(format!(
            "invalid request body: {}",
            redact_quoted(&e.body_text())
        )),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::invalid(format!("malformed JSON: {}", redact_quoted(&e.body_text())))
        }
        other => ApiError::invalid(redact_quoted(&other.body_text())),
    }
}

/// Replaces double-quoted spans (serde quotes offending values there) with `…`, and
/// backquoted ones (field and variant names) too when they look like a secret; then
/// any other word that looks like one (serde's error path names an unknown query key
/// as it was sent).
pub fn redact_quoted(text: &str) -> String {
    scrub_words(&redact_spans(text))
}

fn secretish(word: &str) -> bool {
    word.len() > 32 || word.contains("ocf_") || word.contains("sk-")
}

fn scrub_words(text: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_word) {
        out.push_str(&rest[..start]);
        let word = &rest[start..];
        let len = word.find(|c: char| !is_word(c)).unwrap_or(word.len());
        out.push_str(if secretish(&word[..len]) {
            "…"
        } else {
            &word[..len]
        });
        rest = &word[len..];
    }
    out.push_str(rest);
    out
}

fn redact_spans(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else {
            out.push('…');
            return out;
        };
        let inner = &after[..len];
        if quote == '"' || secretish(inner) {
            out.push('…');
        } else {
            out.push_str(inner);
        }
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    out
}

/// For optional body fields where `null` means something (clear the value): a field
/// that is present deserializes to `Some(value or None)`; with `#[serde(default)]`, an
/// absent one stays `None`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An owner-editable field that failed to parse: 400 with the rule it broke.
pub fn field(err: openclaw_fleet_protocol::ProtocolError) -> ApiError {
    ApiError::invalid(err.to_string())
}

/// Path parameters with the same error shape as bodies (axum's own rejection is text).
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| {
                ApiError::invalid(format!("invalid path: {}", redact_quoted(&e.body_text())))
            })
    }
}

/// Query strings with the same error shape as bodies.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                ApiError::invalid(format!("invalid query: {}", redact_quoted(&e.body_text())))
            })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_values_are_removed() {
        let s = super::redact_quoted(
            "name: invalid type: string \"ocf_as_SECRET\", expected u64 at line 1 column 9",
        );
        assert!(!s.contains("SECRET"));
        assert!(s.contains("expected u64"));
        assert_eq!(
            super::redact_quoted("missing field `email`"),
            "missing field `email`"
        );
        assert!(!super::redact_quoted("unknown field `ocf_as_x`").contains("ocf_as_x"));
        let path = super::redact_quoted("ocf_as_abc-DEF_1: unknown field `x`, expected `page`");
        assert_eq!(path, "…: unknown field `x`, expected `page`");
        let b64 = super::redact_quoted("at q.AAAAAAAAAAAAAAAAAAAA+AAAAAAAAAAAAAAAA/AAAAA=: bad");
        assert_eq!(b64, "at q.…: bad");
    }
}
