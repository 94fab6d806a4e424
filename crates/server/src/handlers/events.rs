//! Live updates for the dashboard: server-sent events of the caller's agent changes.
//!
//! Each stream has an inbox on this replica that coalesces changes per agent (see
//! `access::streams`); the stream takes up to a batch at a time, checks its session
//! once, reads the batch's agents in one query and sends them, so it keeps up with a
//! burst of changes instead of falling behind it. A stream may name the agents its page
//! shows (`watch`): their changes go ahead of every other queued change, and with
//! `others=coarse` the other agents' changes are only counted, so the owner of 100 000
//! agents heartbeating 10 000 times a second gets the page's rows live and a count a
//! second instead of a stream no browser (and no replica on two cores) keeps up with.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;
use utoipa::IntoParams;

use crate::access::{AppState, Owner, StreamBatch, StreamScope, Subscription};
use crate::error::{ApiError, ApiResult};
use crate::json::ApiQuery;

/// Most agents one stream may watch (a page of the dashboard's list shows 50).
pub const MAX_WATCH: usize = 200;
/// How often, at most, a `coarse` stream sends the count of the other agents' changes.
const COUNT_EVERY: Duration = Duration::from_secs(1);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Comma-separated ids of up to 200 agents (the ones the page shows) whose changes are
    /// sent ahead of every other queued change and never dropped for a `resync`.
    pub watch: Option<String>,
    /// `all` (default): every other change is sent as well. `coarse`: the other agents'
    /// changes (deletions too) are not sent; `agents_changed` with `{"count": n}` says at
    /// most once a second how many there were. Fleet changes are always sent.
    pub others: Option<String>,
}

impl EventsQuery {
    fn scope(&self) -> ApiResult<StreamScope> {
        let watch: HashSet<String> = self
            .watch
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        if watch.len() > MAX_WATCH || watch.iter().any(|id| id.len() > 64) {
            return Err(ApiError::invalid(format!(
                "watch: at most {MAX_WATCH} agent ids"
            )));
        }
        let coarse = match self.others.as_deref() {
            None | Some("all") => false,
            Some("coarse") => true,
            Some(_) => return Err(ApiError::invalid("others: all or coarse")),
        };
        Ok(StreamScope { watch, coarse })
    }
}

/// How often an idle stream re-checks its session (a change re-checks at once).
const SESSION_RECHECK: Duration = Duration::from_secs(10);
/// How soon a browser reconnects after the server ended its stream to restart.
const RESTART_RETRY: Duration = Duration::from_secs(1);

/// `event: agent` with the agent's JSON on every change (the watched agents' first: see
/// the parameters); `event: agent_deleted` with
/// `{id}`; `event: fleet` with the fleet's JSON when one is created or renamed,
/// `event: fleet_deleted` with `{id}`; `event: resync` when the client fell behind (or,
/// on PostgreSQL, this replica may have missed another's changes) and should reload its
/// lists. An agent that changed several times before its event was sent is sent once,
/// in its latest state. The stream ends when its session is logged out or expires,
/// and when the server drains for a restart: then its last message is a `retry:` hint so
/// the browser reconnects soon. With `others=coarse`, `event: agents_changed` with
/// `{"count": n}`: n changes of agents not watched since the last such event.
#[utoipa::path(get, path = "/api/events", tag = "agents", params(EventsQuery),
    responses((status = 200, description = "server-sent events", body = String, content_type = "text/event-stream"),
               (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    owner: Owner,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let inbox = state.subscribe_changes(&owner.user().id, q.scope()?);
    let recheck = tokio::time::interval(SESSION_RECHECK);
    let live = Live {
        state,
        owner,
        inbox,
        recheck,
        ready: VecDeque::new(),
        next_count: Instant::now(),
        ended: false,
    };
    let events = stream::unfold(live, |mut live| async move {
        let event = live.next().await?;
        Some((Ok(event), live))
    });
    let events = crate::telemetry::counted(events, crate::telemetry::names::SSE_CLIENTS);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One open stream: whose it is and what it has read but not yet sent.
struct Live {
    state: AppState,
    owner: Owner,
    inbox: Subscription,
    recheck: tokio::time::Interval,
    ready: VecDeque<Event>,
    /// When the next `agents_changed` may be sent (`coarse`).
    next_count: Instant,
    ended: bool,
}

impl Live {
    /// The next event, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let batch = self.inbox.take();
            let counted = self.inbox.has_counted();
            let count_due = counted && Instant::now() >= self.next_count;
            if batch.changes.is_empty() && !batch.resync && !count_due {
                let count_at = self.next_count;
                tokio::select! {
                    _ = self.state.until_draining() => {
                        self.ended = true;
                        return Some(Event::default().retry(RESTART_RETRY).comment("server restarting"));
                    }
                    _ = self.inbox.changed() => continue,
                    _ = tokio::time::sleep_until(count_at), if counted => continue,
                    _ = self.recheck.tick() => {}
                }
            }
            // Logout or expiry ends the stream: nothing more is delivered.
            if !matches!(self.owner.session_alive().await, Ok(true)) {
                return None;
            }
            self.read(batch).await;
            if count_due {
                let count = self.inbox.take_counted();
                self.next_count = Instant::now() + COUNT_EVERY;
                self.ready.push_back(
                    Event::default()
                        .event("agents_changed")
                        .data(json!({ "count": count }).to_string()),
                );
            }
        }
    }

    /// Reads a batch's objects (its agents in one query) into events, in its order.
    async fn read(&mut self, batch: StreamBatch) {
        if batch.resync {
            self.ready.push_back(resync());
        }
        let ids: Vec<String> = batch
            .changes
            .iter()
            .filter(|c| !c.deleted && !c.object.fleet)
            .map(|c| c.object.id.clone())
            .collect();
        let mut agents: HashMap<String, Event> = match self.owner.agent_views(&ids).await {
            Ok(views) => views
                .into_iter()
                .map(|v| {
                    let data = serde_json::to_string(&v).unwrap_or_default();
                    (v.id, Event::default().event("agent").data(data))
                })
                .collect(),
            Err(_) => {
                // Unread: the dashboard reloads instead of missing them.
                self.ready.push_back(resync());
                HashMap::new()
            }
        };
        for change in batch.changes {
            let id = change.object.id;
            let event = match (change.object.fleet, change.deleted) {
                (fleet, true) => Some(
                    Event::default()
                        .event(if fleet {
                            "fleet_deleted"
                        } else {
                            "agent_deleted"
                        })
                        .data(json!({ "id": id }).to_string()),
                ),
                (true, false) => self.owner.fleet(&id).await.ok().map(|view| {
                    Event::default()
                        .event("fleet")
                        .data(serde_json::to_string(&view).unwrap_or_default())
                }),
                (false, false) => agents.remove(&id),
            };
            self.ready.extend(event);
        }
    }
}

fn resync() -> Event {
    Event::default().event("resync").data("{}")
}
