//! The owner's agent list: filters, name search, sorts, keyset pages behind an opaque
//! cursor, and status counts (see docs/api.md "Listing agents").
//!
//! A cursor is base64url JSON naming the sort it was made for and the last row's key and
//! id; it only positions the page (the owner filter is in SQL), so a forged one shows the
//! owner nothing new. Keyset pages are stable under concurrent inserts: a row inserted
//! meanwhile appears in a later page or not at all, never twice, and pushes no other row
//! out. (A row whose sort key or status changes while paging may move, as it really did.)

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::*;
use crate::access::counts;
use crate::store::{AgentListing, KeyValue, SortKey, StatusCounts};

/// A list request as the handler parsed it.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub fleet_id: Option<String>,
    pub status: Option<String>,
    /// Name search: a prefix, compared lowercased.
    pub q: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub cursor: Option<String>,
    /// The older offset paging; exclusive with `cursor`.
    pub page: Option<i64>,
    pub limit: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cursor {
    /// The sort: `name`, `created` or `last_seen`, `-` first when descending.
    s: String,
    /// The last row's sort key.
    k: serde_json::Value,
    /// The last row's id.
    i: String,
}

fn sort_name(sort: SortKey, descending: bool) -> String {
    let name = match sort {
        SortKey::Name => "name",
        SortKey::Created => "created",
        SortKey::LastSeen => "last_seen",
    };
    format!("{}{name}", if descending { "-" } else { "" })
}

fn bad_cursor() -> ApiError {
    ApiError::invalid("cursor is not valid: pass next_cursor from a page of the same sort")
}

fn decode_cursor(text: &str, sort: SortKey, descending: bool) -> ApiResult<(KeyValue, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad_cursor())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
    if c.s != sort_name(sort, descending) {
        return Err(ApiError::invalid(
            "cursor was made for another sort: start again without cursor",
        ));
    }
    let id = parse_agent_id(&c.i).map_err(|_| bad_cursor())?.to_string();
    let key = match (sort, c.k) {
        (SortKey::Name, serde_json::Value::String(t))
            if t.len() <= 400 && !t.chars().any(char::is_control) =>
        {
            KeyValue::Text(t)
        }
        (SortKey::Created | SortKey::LastSeen, serde_json::Value::Number(n)) => {
            KeyValue::Int(n.as_i64().ok_or_else(bad_cursor)?)
        }
        _ => return Err(bad_cursor()),
    };
    Ok((key, id))
}

fn encode_cursor(row: &crate::store::AgentRow, sort: SortKey, descending: bool) -> String {
    let k = match sort {
        SortKey::Name => row.name_fold.clone().into(),
        SortKey::Created => row.created_at.into(),
        SortKey::LastSeen => row.seen_key.into(),
    };
    let c = Cursor {
        s: sort_name(sort, descending),
        k,
        i: row.id.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default())
}

impl Owner {
    pub async fn agents(&self, r: ListRequest) -> ApiResult<AgentPage> {
        let now = self.state.now();
        let after = match (&r.cursor, r.page) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid("use cursor or page, not both"));
            }
            (Some(c), None) => Some(decode_cursor(c, r.sort, r.descending)?),
            _ => None,
        };
        // Only reads: filters and counts see the stored status, which the flusher and the
        // offline sweep (`access::sweep`) keep at most a second behind.
        let listing = AgentListing {
            fleet_id: r.fleet_id.clone(),
            status: r.status.clone(),
            name_prefix: r.q.as_deref().map(str::to_lowercase),
            sort: r.sort,
            descending: r.descending,
            after,
            offset: r.page.map_or(0, |p| (p - 1).saturating_mul(r.limit)),
            limit: r.limit + 1,
            now,
        };
        let (store, owner, listing) = (&self.state.0.store, self.id(), &listing);
        let (limit, sort, descending) = (r.limit, r.sort, r.descending);
        let (mut rows, next_cursor) = (self.state.0.latest)
            .read_merged(
                move || async move {
                    let mut rows = store.list_agents(owner, listing).await?;
                    let more = rows.len() as i64 > limit;
                    rows.truncate(limit as usize);
                    // The cursor keeps the stored keys; the rows are then shown newer, with
                    // what this replica acknowledged and has not flushed yet.
                    let next = rows
                        .last()
                        .filter(|_| more)
                        .map(|row| encode_cursor(row, sort, descending));
                    Ok::<_, ApiError>((rows, next))
                },
                |(rows, _)| rows.as_mut_slice(),
            )
            .await?;
        // A row listed under a status it no longer has (a heartbeat not flushed yet, or
        // an agent past its deadline before the sweep) is left out of the page: a status
        // filter never shows a row under another status. The cursor already holds.
        if let Some(s) = &r.status {
            rows.retain(|row| effective_status(row, now) == *s);
        }
        let counts = StatusCountsView::from_rows(&self.status_counts(r.fleet_id.as_deref()).await?);
        let total = match (r.page, &r.q, &r.status) {
            (Some(_), _, _) => Some(self.state.0.store.count_listing(self.id(), listing).await?),
            (None, Some(_), _) => None,
            (None, None, Some(s)) => Some(counts.of(s)),
            (None, None, None) => Some(counts.total),
        };
        Ok(AgentPage {
            agents: rows
                .iter()
                .map(|row| AgentView::from_row(row, now))
                .collect(),
            limit: r.limit,
            next_cursor,
            page: r.page,
            total,
            counts,
        })
    }

    /// See `access::counts`: exact for small scopes; at scale, kept and recounted in the
    /// background.
    async fn status_counts(&self, fleet: Option<&str>) -> ApiResult<StatusCounts> {
        Ok(
            counts::kept(
                &self.state,
                |s| &s.0.counts,
                self.id(),
                fleet,
                |st, owner, fleet| async move {
                    st.0.store.status_counts(&owner, fleet.as_deref()).await
                },
            )
            .await?,
        )
    }
}
