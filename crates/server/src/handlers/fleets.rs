//! Fleets: list, create, get, rename, delete.

use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use openclaw_fleet_protocol::Name;

use crate::access::{FleetView, Owner};
use crate::error::ApiResult;
use crate::json::{field, ApiJson, ApiPath};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFleet {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct FleetList {
    pub fleets: Vec<FleetView>,
}

#[utoipa::path(get, path = "/api/fleets", tag = "fleets",
    responses((status = 200, body = FleetList), (status = 401, body = super::ErrorBody)))]
pub async fn list(owner: Owner) -> ApiResult<Json<FleetList>> {
    Ok(Json(FleetList {
        fleets: owner.fleets().await?,
    }))
}

#[utoipa::path(post, path = "/api/fleets", tag = "fleets", request_body = NewFleet,
    responses((status = 201, body = FleetView), (status = 400, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody)))]
pub async fn create(
    owner: Owner,
    ApiJson(body): ApiJson<NewFleet>,
) -> ApiResult<(StatusCode, Json<FleetView>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            owner
                .create_fleet(&Name::parse(&body.name).map_err(field)?)
                .await?,
        ),
    ))
}

/// Renames a fleet (the same rules as at creation; 409 when the name is taken).
#[utoipa::path(patch, path = "/api/fleets/{id}", tag = "fleets", params(("id" = String, Path)),
    request_body = NewFleet,
    responses((status = 200, body = FleetView), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn update(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewFleet>,
) -> ApiResult<Json<FleetView>> {
    let name = Name::parse(&body.name).map_err(field)?;
    Ok(Json(owner.rename_fleet(&id, &name).await?))
}

#[utoipa::path(get, path = "/api/fleets/{id}", tag = "fleets", params(("id" = String, Path)),
    responses((status = 200, body = FleetView), (status = 404, body = super::ErrorBody)))]
pub async fn get(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<Json<FleetView>> {
    Ok(Json(owner.fleet(&id).await?))
}

#[utoipa::path(delete, path = "/api/fleets/{id}", tag = "fleets", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody)))]
pub async fn delete(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    owner.delete_fleet(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
