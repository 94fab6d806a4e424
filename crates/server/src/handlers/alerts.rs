//! Alert rules (`/api/alerts/rules`) and their delivery log (`/api/alerts/deliveries`).

use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{AlertRuleInput, AlertRuleView, CreatedAlertRule, DeliveryPage, Owner};
use crate::error::ApiResult;
use crate::json::{ApiJson, ApiPath, ApiQuery};

#[derive(Serialize, ToSchema)]
pub struct AlertRuleList {
    pub rules: Vec<AlertRuleView>,
}

#[utoipa::path(get, path = "/api/alerts/rules", tag = "alerts",
    responses((status = 200, body = AlertRuleList), (status = 401, body = super::ErrorBody)))]
pub async fn list(owner: Owner) -> ApiResult<Json<AlertRuleList>> {
    Ok(Json(AlertRuleList {
        rules: owner.alert_rules().await?,
    }))
}

/// Creates a rule. `name`, `condition` and `webhook` are required; the answer holds the
/// webhook's signing secret, shown this once (the URL is never shown again either).
#[utoipa::path(post, path = "/api/alerts/rules", tag = "alerts", request_body = AlertRuleInput,
    responses((status = 201, body = CreatedAlertRule), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn create(
    owner: Owner,
    ApiJson(body): ApiJson<AlertRuleInput>,
) -> ApiResult<(StatusCode, Json<CreatedAlertRule>)> {
    Ok((
        StatusCode::CREATED,
        Json(owner.create_alert_rule(&body).await?),
    ))
}

#[utoipa::path(get, path = "/api/alerts/rules/{id}", tag = "alerts", params(("id" = String, Path)),
    responses((status = 200, body = AlertRuleView), (status = 404, body = super::ErrorBody)))]
pub async fn get(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<Json<AlertRuleView>> {
    Ok(Json(owner.alert_rule(&id).await?))
}

/// Changes a rule: any field but `condition`; a new `webhook` replaces the URL and keeps
/// the signing secret.
#[utoipa::path(patch, path = "/api/alerts/rules/{id}", tag = "alerts", params(("id" = String, Path)),
    request_body = AlertRuleInput,
    responses((status = 200, body = AlertRuleView), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn update(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AlertRuleInput>,
) -> ApiResult<Json<AlertRuleView>> {
    Ok(Json(owner.update_alert_rule(&id, &body).await?))
}

#[utoipa::path(delete, path = "/api/alerts/rules/{id}", tag = "alerts", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = super::ErrorBody)))]
pub async fn delete(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    owner.delete_alert_rule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only deliveries older than this id (the `next_before` of the previous page).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Only this rule's deliveries.
    #[param(format = Uuid)]
    pub rule_id: Option<String>,
}

/// Notices sent (or given up on), newest first: time, rule, agent, firing or resolved,
/// the receiver's HTTP status or what failed, and the attempts it took.
#[utoipa::path(get, path = "/api/alerts/deliveries", tag = "alerts", params(DeliveryQuery),
    responses((status = 200, body = DeliveryPage), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody)))]
pub async fn deliveries(
    owner: Owner,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    Ok(Json(
        owner
            .alert_deliveries(q.before, q.rule_id.as_deref(), q.limit.unwrap_or(50))
            .await?,
    ))
}
