//! Live updates for the dashboard: server-sent events of the caller's agent changes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::access::{AgentChange, AppState, Owner};

/// How often an idle stream re-checks its session (a change re-checks at once).
const SESSION_RECHECK: Duration = Duration::from_secs(10);
/// How soon a browser reconnects after the server ended its stream to restart.
const RESTART_RETRY: Duration = Duration::from_secs(1);

/// `event: agent` with the agent's JSON on every change; `event: agent_deleted` with
/// `{id}`; `event: fleet` with the fleet's JSON when one is created or renamed,
/// `event: fleet_deleted` with `{id}`; `event: resync` when the client fell behind (or,
/// on PostgreSQL, this replica may have missed another's changes) and should reload its
/// lists. The stream ends when its session is logged out or expires,
/// and when the server drains for a restart: then its last message is a `retry:` hint so
/// the browser reconnects soon.
#[utoipa::path(get, path = "/api/events", tag = "agents",
    responses((status = 200, description = "server-sent events", body = String, content_type = "text/event-stream"),
               (status = 401, body = super::ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    owner: Owner,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.subscribe_changes();
    let owner_id = owner.user().id;
    let recheck = tokio::time::interval(SESSION_RECHECK);
    let live = Live {
        state,
        owner,
        owner_id,
        rx,
        recheck,
        ended: false,
    };
    let events = stream::unfold(live, |mut live| async move {
        let event = live.next().await?;
        Some((Ok(event), live))
    });
    let events = crate::telemetry::counted(events, crate::telemetry::names::SSE_CLIENTS);
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// One open stream: whose it is and where it stands.
struct Live {
    state: AppState,
    owner: Owner,
    owner_id: String,
    rx: broadcast::Receiver<AgentChange>,
    recheck: tokio::time::Interval,
    ended: bool,
}

impl Live {
    /// The next event, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            let received = tokio::select! {
                _ = self.state.until_draining() => {
                    self.ended = true;
                    return Some(Event::default().retry(RESTART_RETRY).comment("server restarting"));
                }
                r = self.rx.recv() => Some(r),
                _ = self.recheck.tick() => None,
            };
            if matches!(&received, Some(Ok(change)) if !change.resync && change.owner_id != self.owner_id)
            {
                continue;
            }
            // Logout or expiry ends the stream: nothing more is delivered.
            if !matches!(self.owner.session_alive().await, Ok(true)) {
                return None;
            }
            return Some(match received {
                None => continue,
                Some(Ok(change)) if change.resync => Event::default().event("resync").data("{}"),
                Some(Ok(change)) if change.deleted => Event::default()
                    .event(if change.fleet {
                        "fleet_deleted"
                    } else {
                        "agent_deleted"
                    })
                    .data(json!({ "id": change.agent_id }).to_string()),
                Some(Ok(change)) if change.fleet => {
                    match self.owner.fleet(&change.agent_id).await {
                        Ok(view) => Event::default()
                            .event("fleet")
                            .data(serde_json::to_string(&view).unwrap_or_default()),
                        Err(_) => continue,
                    }
                }
                Some(Ok(change)) => match self.owner.agent_view(&change.agent_id).await {
                    Ok(view) => Event::default()
                        .event("agent")
                        .data(serde_json::to_string(&view).unwrap_or_default()),
                    Err(_) => continue,
                },
                Some(Err(RecvError::Lagged(_))) => Event::default().event("resync").data("{}"),
                Some(Err(RecvError::Closed)) => return None,
            });
        }
    }
}
