//! An agent's config history: the kept versions and one version's envelope. The
//! envelopes are the browser's, opaque to the server; the dashboard decrypts them to
//! show a diff or to restore one as a new version.

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{ConfigVersionDetail, ConfigVersionView, Owner};
use crate::error::ApiResult;
use crate::json::ApiPath;

#[derive(Serialize, ToSchema)]
pub struct ConfigHistory {
    /// Newest first; at most the last 20 versions.
    pub versions: Vec<ConfigVersionView>,
}

#[derive(Deserialize)]
pub struct VersionPath {
    id: String,
    version: i64,
}

/// The kept versions of an agent's config (the current one included), newest first.
#[utoipa::path(get, path = "/api/agents/{id}/config/history", tag = "agents",
    params(("id" = String, Path)),
    responses((status = 200, body = ConfigHistory), (status = 404, body = super::ErrorBody)))]
pub async fn list(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ConfigHistory>> {
    Ok(Json(ConfigHistory {
        versions: owner.config_history(&id).await?,
    }))
}

/// One kept version with its envelope, exactly as the browser uploaded it.
#[utoipa::path(get, path = "/api/agents/{id}/config/history/{version}", tag = "agents",
    params(("id" = String, Path), ("version" = i64, Path, minimum = 1)),
    responses((status = 200, body = ConfigVersionDetail), (status = 404, body = super::ErrorBody)))]
pub async fn get(
    owner: Owner,
    ApiPath(p): ApiPath<VersionPath>,
) -> ApiResult<Json<ConfigVersionDetail>> {
    Ok(Json(owner.config_version(&p.id, p.version).await?))
}
