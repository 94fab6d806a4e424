//! Agents as their owner manages them (SPEC §7): list, create, get, delete, wrapped
//! secret, config, secret rotation or Ed25519 enrollment tokens (SPEC-identity), metrics
//! history, and the built-in policies.

use axum::http::StatusCode;
use axum::Json;
use openclaw_fleet_protocol::{builtin_policies, GatewayUrl, Name, Policy, PolicyProfile};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::access::{
    AgentDetail, AgentEdit, AgentPage, AgentView, CreatedAgent, IssuedEnrollment, ListRequest,
    MetricsView, Owner, RotatedSecret,
};
use crate::error::{ApiError, ApiResult};
use crate::json::{field, present, ApiJson, ApiPath, ApiQuery};
use crate::store::SortKey;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(format = Uuid)]
    pub fleet_id: Option<String>,
    /// pending, healthy, idle, error or offline.
    #[param(pattern = "^(pending|healthy|idle|error|offline)$")]
    pub status: Option<String>,
    /// Name search: agents whose name starts with this, case-insensitively (1 to 100
    /// characters). Results are sorted by name.
    pub q: Option<String>,
    /// name, created (default) or last_seen; a leading `-` sorts descending.
    #[param(pattern = "^-?(name|created|last_seen)$")]
    pub sort: Option<String>,
    /// `next_cursor` of the previous page (same filters and sort).
    pub cursor: Option<String>,
    /// From 1: the older offset paging, exclusive with `cursor` (slower on deep pages).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

fn parse_sort(sort: Option<&str>, searching: bool) -> ApiResult<(SortKey, bool)> {
    let s = sort.unwrap_or(if searching { "name" } else { "created" });
    let (descending, name) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let key = match name {
        "name" => SortKey::Name,
        "created" => SortKey::Created,
        "last_seen" => SortKey::LastSeen,
        _ => {
            return Err(ApiError::invalid(
                "sort must be name, created or last_seen, optionally after a -",
            ))
        }
    };
    if searching && key != SortKey::Name {
        return Err(ApiError::invalid("search results (q) are sorted by name"));
    }
    Ok((key, descending))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    pub name: String,
    pub fleet_id: Option<String>,
    /// dev (default), ops or exec.
    pub policy_profile: Option<String>,
    pub gateway_url: Option<String>,
    /// `hmac` (default: the answer carries `agent_secret`) or `ed25519` (the answer
    /// carries a single-use `enrollment_token` instead; SPEC-identity).
    #[schema(pattern = "^(hmac|ed25519)$")]
    pub identity: Option<String>,
}

/// Changes to an agent: only the fields given change; `null` clears `fleet_id` or
/// `gateway_url`. The same rules as at creation apply to each value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentChanges {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// One of your fleets (another answers 404), or `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub fleet_id: Option<Option<String>>,
    /// dev, ops or exec; its heartbeat interval comes with it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub policy_profile: Option<Option<String>>,
    /// `null` for the agent's default gateway.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub gateway_url: Option<Option<String>>,
}

impl AgentChanges {
    fn parse(self) -> ApiResult<AgentEdit> {
        let required = |f: Option<Option<String>>, name: &str| match f {
            Some(None) => Err(ApiError::invalid(format!("{name} cannot be cleared"))),
            Some(Some(v)) => Ok(Some(v)),
            None => Ok(None),
        };
        Ok(AgentEdit {
            name: required(self.name, "name")?
                .map(|n| Name::parse(&n))
                .transpose()
                .map_err(field)?,
            fleet_id: self.fleet_id,
            policy_profile: required(self.policy_profile, "policy_profile")?
                .map(|p| PolicyProfile::parse(&p))
                .transpose()
                .map_err(field)?,
            gateway_url: self
                .gateway_url
                .map(|u| u.map(|u| GatewayUrl::parse(&u)).transpose())
                .transpose()
                .map_err(field)?,
        })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutWrappedSecret {
    #[schema(value_type = Object)]
    pub wrapped_secret: Value,
    /// The account password; required to replace an existing wrapped secret.
    pub password: Option<String>,
    /// The `key_check` of the master key the secret was wrapped under; when given, the
    /// wrap is refused (409) unless that is still the owner's master key.
    #[schema(value_type = Option<Object>)]
    pub key_check: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutConfig {
    /// A SPEC §4 envelope; anything else is 422 `config_not_encrypted`.
    #[schema(value_type = Object)]
    pub config: Value,
    /// When the envelope re-seals an older version's content (a restore): that
    /// version, recorded in the activity log. It must be below the new version.
    #[schema(minimum = 1)]
    pub restored_from: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ConfigSaved {
    pub config_version: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// Unix seconds; default one hour ago.
    pub since: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    #[schema(value_type = Vec<Object>)]
    pub policies: Vec<Policy>,
}

const STATUSES: [&str; 5] = ["pending", "healthy", "idle", "error", "offline"];

#[utoipa::path(get, path = "/api/agents", tag = "agents", params(ListQuery),
    responses((status = 200, body = AgentPage), (status = 400, body = super::ErrorBody)))]
pub async fn list(owner: Owner, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult<Json<AgentPage>> {
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::invalid(
                "status must be one of pending, healthy, idle, error, offline",
            ));
        }
    }
    if let Some(f) = &q.fleet_id {
        if openclaw_fleet_protocol::AgentId::parse(f).is_err() {
            return Err(ApiError::invalid("fleet_id must be a fleet id"));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if q.page.is_some_and(|p| p < 1) || !(1..=200).contains(&limit) {
        return Err(ApiError::invalid(
            "page must be ≥ 1 and limit between 1 and 200",
        ));
    }
    let search = q.q.filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(ApiError::invalid("q must be at most 100 characters"));
    }
    // Names hold no control characters (and PostgreSQL refuses NUL in text outright).
    if search
        .as_ref()
        .is_some_and(|s| s.chars().any(char::is_control))
    {
        return Err(ApiError::invalid("q must not contain control characters"));
    }
    let (sort, descending) = parse_sort(q.sort.as_deref(), search.is_some())?;
    let request = ListRequest {
        fleet_id: q.fleet_id,
        status: q.status,
        q: search,
        sort,
        descending,
        cursor: q.cursor,
        page: q.page,
        limit,
    };
    Ok(Json(owner.agents(request).await?))
}

/// Creates an agent. The answer holds its AGENT_SECRET: shown this once.
#[utoipa::path(post, path = "/api/agents", tag = "agents", request_body = NewAgent,
    responses((status = 201, body = CreatedAgent), (status = 400, body = super::ErrorBody)))]
pub async fn create(
    owner: Owner,
    ApiJson(b): ApiJson<NewAgent>,
) -> ApiResult<(StatusCode, Json<CreatedAgent>)> {
    let name = Name::parse(&b.name).map_err(field)?;
    let profile = b
        .policy_profile
        .as_deref()
        .map(PolicyProfile::parse)
        .transpose()
        .map_err(field)?;
    let gateway_url = b
        .gateway_url
        .as_deref()
        .map(GatewayUrl::parse)
        .transpose()
        .map_err(field)?;
    let ed25519 = match b.identity.as_deref() {
        None | Some("hmac") => false,
        Some("ed25519") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "identity must be \"hmac\" or \"ed25519\"",
            ))
        }
    };
    let created = owner
        .create_agent(
            &name,
            b.fleet_id.as_deref(),
            profile.as_ref(),
            gateway_url.as_ref(),
            ed25519,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Edits an agent in place: rename, move to another fleet (or none), change its policy
/// profile or gateway URL. The agent gets a new policy or gateway URL with its next
/// heartbeat or handshake.
#[utoipa::path(patch, path = "/api/agents/{id}", tag = "agents", params(("id" = String, Path)),
    request_body = AgentChanges,
    responses((status = 200, body = AgentView), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn update(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<AgentChanges>,
) -> ApiResult<Json<AgentView>> {
    let edit = b.parse()?;
    Ok(Json(owner.update_agent(&id, &edit).await?))
}

#[utoipa::path(get, path = "/api/agents/{id}", tag = "agents", params(("id" = String, Path)),
    responses((status = 200, body = AgentDetail), (status = 404, body = super::ErrorBody)))]
pub async fn get(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<Json<AgentDetail>> {
    Ok(Json(owner.agent(&id).await?))
}

/// Deletes an agent; its tokens stop working at once.
#[utoipa::path(delete, path = "/api/agents/{id}", tag = "agents", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = super::ErrorBody)))]
pub async fn delete(owner: Owner, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    owner.delete_agent(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stores the ENCRYPTION_SECRET wrapped under the owner's master key.
#[utoipa::path(put, path = "/api/agents/{id}/wrapped-secret", tag = "agents", params(("id" = String, Path)),
    request_body = PutWrappedSecret,
    responses((status = 200, body = AgentDetail), (status = 403, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn put_wrapped_secret(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<PutWrappedSecret>,
) -> ApiResult<Json<AgentDetail>> {
    Ok(Json(
        owner
            .set_wrapped_secret(
                &id,
                &b.wrapped_secret,
                b.password.as_deref(),
                b.key_check.as_ref(),
            )
            .await?,
    ))
}

/// Stores a new config version: an envelope the server cannot read.
#[utoipa::path(put, path = "/api/agents/{id}/config", tag = "agents", params(("id" = String, Path)),
    request_body = PutConfig,
    responses((status = 200, body = ConfigSaved), (status = 404, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody), (status = 413, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody)))]
pub async fn put_config(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<PutConfig>,
) -> ApiResult<Json<ConfigSaved>> {
    Ok(Json(ConfigSaved {
        config_version: owner.save_config(&id, &b.config, b.restored_from).await?,
    }))
}

/// A new AGENT_SECRET, shown once; every token of the agent is revoked. An Ed25519
/// agent has no secret: 409, use `enrollment-token`.
#[utoipa::path(post, path = "/api/agents/{id}/rotate-secret", tag = "agents", params(("id" = String, Path)),
    responses((status = 200, body = RotatedSecret), (status = 404, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody)))]
pub async fn rotate_secret(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RotatedSecret>> {
    Ok(Json(owner.rotate_secret(&id).await?))
}

/// Switches the agent to an Ed25519 identity, or re-issues its enrollment token: a new
/// single-use `ocf_et_…` token, shown once, valid for `enrollment_token_ttl_secs`
/// (default 24 h). At once, the agent's HMAC secret, its enrolled public key, every
/// earlier enrollment token and every agent token are gone, so the old credential
/// stops working now, not when the new key enrolls (SPEC-identity).
#[utoipa::path(post, path = "/api/agents/{id}/enrollment-token", tag = "agents",
    params(("id" = String, Path)),
    responses((status = 200, body = IssuedEnrollment), (status = 404, body = super::ErrorBody)))]
pub async fn enrollment_token(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IssuedEnrollment>> {
    Ok(Json(owner.issue_enrollment_token(&id).await?))
}

/// Heartbeat history for charts: about 360 points at most, read at the stored resolution
/// that fits the window (raw samples up to two hours, 1-minute buckets up to 12 hours,
/// 5-minute up to 7 days, hours beyond).
#[utoipa::path(get, path = "/api/agents/{id}/metrics", tag = "agents",
    params(("id" = String, Path), MetricsQuery),
    responses((status = 200, body = MetricsView), (status = 404, body = super::ErrorBody)))]
pub async fn metrics(
    owner: Owner,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> ApiResult<Json<MetricsView>> {
    Ok(Json(owner.metrics(&id, q.since).await?))
}

/// The built-in policy profiles.
#[utoipa::path(get, path = "/api/policies", tag = "agents",
    responses((status = 200, body = PolicyList), (status = 401, body = super::ErrorBody)))]
pub async fn policies(_owner: Owner) -> Json<PolicyList> {
    Json(PolicyList {
        policies: builtin_policies(),
    })
}
