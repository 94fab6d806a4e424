//! The owner's activity log as they read it: newest first, in pages keyed by entry id
//! (`before`), optionally about one object. Only the owner's own entries exist here: the
//! owner id is a condition of the query, so another owner's object id finds nothing.

use serde::Serialize;
use utoipa::ToSchema;

use super::*;
use crate::store::ActivityRow;

/// Entries per page at most.
pub const MAX_PAGE: i64 = 200;

/// One entry of the activity log. Never holds a value: no secret, config or password.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    /// Increasing; pass the last one seen as `before` for the next page.
    pub id: i64,
    /// When it happened (the first time, for a coalesced entry), Unix seconds.
    pub ts: i64,
    /// The last time it happened (equal to `ts` unless `count` > 1).
    pub last_ts: i64,
    /// How many times it happened (failed sign-ins and plaintext-secret sightings are
    /// coalesced per address within an hour).
    pub count: i64,
    /// sign_in, sign_in_failed, sign_out, session_ended, password_changed,
    /// password_reset, master_key_set, master_key_changed, agent_created, agent_edited,
    /// agent_deleted, secret_rotated, config_saved, plaintext_secret_seen.
    pub action: String,
    /// agent, session or account.
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    /// The object's name when the entry was written.
    pub object_name: Option<String>,
    /// Facts without values: `fields` (names) of an edit, `version` and `restored_from`
    /// of a saved config, `rewrapped` of a master-key change, `sessions_ended`.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
    /// session, operator, agent or anonymous.
    pub actor_kind: String,
    /// The session's public id (as `/api/me/sessions` lists it) or the agent's id.
    pub actor_id: Option<String>,
    /// The client address the request came from.
    pub client_addr: Option<String>,
}

/// A page of the activity log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityPage {
    pub entries: Vec<ActivityView>,
    /// Pass as `before` for the next (older) page; `null` when this is the last.
    pub next_before: Option<i64>,
}

impl From<ActivityRow> for ActivityView {
    fn from(r: ActivityRow) -> Self {
        ActivityView {
            id: r.id,
            ts: r.ts,
            last_ts: r.last_ts,
            count: r.count,
            action: r.action,
            object_kind: r.object_kind,
            object_id: r.object_id,
            object_name: r.object_name,
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            client_addr: r.client_addr,
        }
    }
}

impl Owner {
    /// A page of the owner's activity, newest first: entries with an id below `before`
    /// (all when `None`), at most `limit` (1 to [`MAX_PAGE`]); with `object_id` (a
    /// UUID), only those about that object.
    pub async fn activity(
        &self,
        before: Option<i64>,
        object_id: Option<&str>,
        limit: i64,
    ) -> ApiResult<ActivityPage> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        if before.is_some_and(|b| b < 1) {
            return Err(ApiError::invalid("before must be an entry id (≥ 1)"));
        }
        let object_id = match object_id {
            Some(id) => Some(
                AgentId::parse(id)
                    .map_err(|_| ApiError::invalid("object_id must be a UUID"))?
                    .to_string(),
            ),
            None => None,
        };
        let rows = self
            .state
            .0
            .store
            .activity(
                self.id(),
                before.unwrap_or(i64::MAX),
                object_id.as_deref(),
                limit,
            )
            .await?;
        let full = rows.len() as i64 == limit;
        let entries: Vec<ActivityView> = rows.into_iter().map(ActivityView::from).collect();
        let next_before = if full {
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(ActivityPage {
            entries,
            next_before,
        })
    }
}
