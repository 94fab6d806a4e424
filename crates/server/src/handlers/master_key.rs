//! The owner's master-key parameters (SPEC §5): public KDF parameters and key check.

use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::access::{MasterKeyView, Owner};
use crate::error::ApiResult;
use crate::json::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewrappedSecret {
    pub agent_id: String,
    #[schema(value_type = Object)]
    pub wrapped_secret: Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMasterKey {
    #[schema(value_type = Object)]
    pub kdf: Value,
    #[schema(value_type = Object)]
    pub key_check: Value,
    /// On a change: every agent's secret re-wrapped under the new key.
    pub wrapped_secrets: Option<Vec<RewrappedSecret>>,
    /// The account password; required when a master key already exists.
    pub password: Option<String>,
}

/// The owner's `kdf` and `key_check` (null before set-up).
#[utoipa::path(get, path = "/api/me/master-key", tag = "master-key",
    responses((status = 200, body = MasterKeyView), (status = 401, body = crate::handlers::ErrorBody)))]
pub async fn get(owner: Owner) -> Json<MasterKeyView> {
    Json(owner.master_key())
}

/// First set-up, or a change applied atomically with every re-wrapped secret.
#[utoipa::path(put, path = "/api/me/master-key", tag = "master-key", request_body = PutMasterKey,
    responses((status = 200, body = MasterKeyView), (status = 400, body = crate::handlers::ErrorBody),
              (status = 403, body = crate::handlers::ErrorBody), (status = 409, body = crate::handlers::ErrorBody),
              (status = 422, body = crate::handlers::ErrorBody)))]
pub async fn put(
    owner: Owner,
    ApiJson(body): ApiJson<PutMasterKey>,
) -> ApiResult<Json<MasterKeyView>> {
    let wrapped: Option<Vec<(String, Value)>> = body.wrapped_secrets.map(|v| {
        v.into_iter()
            .map(|w| (w.agent_id, w.wrapped_secret))
            .collect()
    });
    let view = owner
        .set_master_key(
            &body.kdf,
            &body.key_check,
            wrapped.as_deref(),
            body.password.as_deref(),
        )
        .await?;
    Ok(Json(view))
}
