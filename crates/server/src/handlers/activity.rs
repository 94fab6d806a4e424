//! The owner's activity log: `GET /api/activity`, newest first, paged by entry id.

use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::access::{ActivityPage, Owner};
use crate::error::ApiResult;
use crate::json::ApiQuery;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// Only entries older than this entry id (the `next_before` of the previous page).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Only entries about this object (an agent's or a session's id).
    #[param(format = Uuid)]
    pub object_id: Option<String>,
}

/// What happened to the account and its agents, newest first: sign-ins (failed ones
/// coalesced per address), sessions ended, password and master-key changes, agents
/// created, edited (field names), deleted, secrets rotated, configs saved (version
/// numbers), plaintext secrets seen. Never a value.
#[utoipa::path(get, path = "/api/activity", tag = "activity", params(ActivityQuery),
    responses((status = 200, body = ActivityPage), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody)))]
pub async fn list(
    owner: Owner,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<ActivityPage>> {
    Ok(Json(
        owner
            .activity(q.before, q.object_id.as_deref(), q.limit.unwrap_or(50))
            .await?,
    ))
}
