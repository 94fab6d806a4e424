//! The access layer: the only code that touches the store on behalf of a request.
//!
//! Handlers never see the store. They receive one of three scopes, each of which can
//! reach only what its caller may:
//! - [`Owner`] (an extractor: session cookie or bearer token) — every method filters on
//!   the caller's user id in SQL, so another owner's object is simply not found (404);
//! - [`AgentSession`] (an extractor: agent bearer token) — the one agent it names;
//! - [`Public`] — registration, login and the signed handshake.
//!
//! The store field is private to this module tree, so no handler can bypass the scopes.

pub mod activity;
mod agent;
mod alerts;
mod bus;
mod cache;
mod counts;
mod drain;
mod enroll;
mod inbox;
mod latest;
mod operator;
mod owner;
mod public;
pub mod rollups;
mod streams;
mod sweep;
mod telemetry;
mod views;
mod writer;

use std::sync::Arc;

use tokio::sync::broadcast;

pub use activity::{Action, Actor};
pub use agent::{AgentSession, HeartbeatAnswer};
pub use enroll::EnrolledAgent;
pub use inbox::{Batch as StreamBatch, Scope as StreamScope};
pub use operator::{AccountView, Operator};
pub use owner::account::SessionView;
pub use owner::{
    ActivityPage, ActivityView, AgentEdit, AlertRuleInput, AlertRuleView, CreatedAlertRule,
    DeliveryPage, DeliveryView, ListRequest, Owner, WebhookInput, WebhookView,
};
pub use public::Public;
pub use streams::Subscription;
pub use sweep::SWEEP_EVERY;
pub use views::*;

use crate::auth::Limits;
use crate::clock::SharedClock;
use crate::crypto::at_rest::Slot;
use crate::crypto::AtRest;
use crate::error::ApiError;
use crate::settings::Settings;
use crate::store::{AgentRow, SharedStore};
use cache::AgentCache;
use writer::Writer;

/// Shared server state. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: SharedStore,
    at_rest: AtRest,
    clock: SharedClock,
    settings: Settings,
    limits: Limits,
    cache: AgentCache,
    /// The agent list's status counts per owner (and fleet).
    counts: counts::CountsCache<Option<String>>,
    /// Each fleet's agent count, per owner.
    fleet_counts: counts::CountsCache<String>,
    writer: Writer,
    /// Heartbeats: latest states and history samples waiting for their flush.
    latest: latest::Latest,
    recorder: activity::Recorder,
    alerts: alerts::Alerts,
    /// The dashboard's open event streams, by owner.
    streams: streams::Streams,
    config_saves: broadcast::Sender<String>,
    /// Notices to and from the other replicas (PostgreSQL).
    bus: bus::Bus,
    /// Cancelled once when the server starts draining (see `drain`).
    drain: tokio_util::sync::CancellationToken,
    /// A random agent secret sealed like a stored one, under [`UNKNOWN_AGENT_ROW`]: the
    /// handshake of an unknown agent opens and checks against it, so it does the same
    /// work as a known agent's.
    unknown_agent_secret: String,
    /// A random `ocf_pk_…` key, for the same reason: an Ed25519 handshake naming an
    /// agent without an enrolled key is verified against it.
    unknown_agent_public_key: String,
}

/// The at-rest row name of [`Inner::unknown_agent_secret`] (no agent id looks like it).
const UNKNOWN_AGENT_ROW: &str = "unknown-agent";

impl AppState {
    pub fn new(
        store: SharedStore,
        at_rest: AtRest,
        clock: SharedClock,
        settings: Settings,
    ) -> Self {
        let unknown_agent_secret = at_rest.seal(
            Slot {
                table: "agents",
                column: "secret_sealed",
                row: UNKNOWN_AGENT_ROW,
            },
            openclaw_fleet_protocol::AgentSecret::generate()
                .expose_secret()
                .as_bytes(),
        );
        let (writer, queue) = Writer::channel();
        let state = Self(Arc::new(Inner {
            unknown_agent_secret,
            unknown_agent_public_key: openclaw_fleet_protocol::IdentityKey::generate()
                .public_key()
                .to_encoded(),
            latest: latest::Latest::new(settings.heartbeat_history_queue),
            limits: Limits::new(clock.clone()),
            writer,
            recorder: activity::Recorder::spawn(store.clone()),
            alerts: alerts::Alerts::new(),
            cache: AgentCache::default(),
            counts: counts::CountsCache::new(settings.count_every_time_below),
            fleet_counts: counts::CountsCache::new(settings.count_every_time_below),
            bus: bus::Bus::new(store.pg_pool()),
            store,
            at_rest,
            clock,
            settings,
            streams: streams::Streams::default(),
            config_saves: broadcast::channel(1024).0,
            drain: tokio_util::sync::CancellationToken::new(),
        }));
        tokio::spawn(latest::run_flusher(Arc::downgrade(&state.0)));
        tokio::spawn(writer::run(Arc::downgrade(&state.0), queue));
        tokio::spawn(cache::watch_changes(Arc::downgrade(&state.0)));
        state
    }

    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn public(&self) -> Public {
        Public(self.clone())
    }

    /// Tells this replica's event streams and, on PostgreSQL, every other replica's.
    pub(crate) fn notify_change(&self, owner_id: &str, agent_id: &str, deleted: bool) {
        self.notify_local(owner_id, agent_id, deleted, false);
        self.0
            .bus
            .send(if deleted { 'd' } else { 'c' }, owner_id, agent_id);
    }

    /// As [`Self::notify_change`], for a fleet.
    pub(crate) fn notify_fleet(&self, owner_id: &str, fleet_id: &str, deleted: bool) {
        self.notify_local(owner_id, fleet_id, deleted, true);
        self.0
            .bus
            .send(if deleted { 'g' } else { 'f' }, owner_id, fleet_id);
    }

    /// Many agents changed at once (a flush, a sweep): this replica's event streams
    /// when `local`, and the other replicas in one notice per owner and batch of ids.
    pub(crate) fn notify_changes<'a>(
        &self,
        agents: impl IntoIterator<Item = (&'a str, &'a str)>,
        local: bool,
    ) {
        let mut by_owner: std::collections::HashMap<&str, Vec<&str>> = Default::default();
        for (owner, id) in agents {
            by_owner.entry(owner).or_default().push(id);
        }
        for (owner, ids) in by_owner {
            if local {
                self.0
                    .streams
                    .push(owner, ids.iter().copied(), false, false);
            }
            self.0.bus.send_changes(owner, &ids);
        }
    }

    /// Delivers a change (made here, or through another replica) in this process only: to
    /// the alert evaluator when it is a deletion, and to the owner's open event streams
    /// (see `streams`). A heartbeat of an owner with no stream open here builds nothing.
    fn notify_local(&self, owner_id: &str, id: &str, deleted: bool, fleet: bool) {
        if deleted {
            self.alert_deleted(owner_id, id, fleet);
        }
        self.0.streams.push(owner_id, [id], fleet, deleted);
    }

    /// An agent row, from the cache when it is trusted (see `cache` for the bound).
    async fn agent_row(&self, id: &str) -> Result<Option<std::sync::Arc<AgentRow>>, ApiError> {
        if let Some(row) = self.0.cache.agent(id) {
            return Ok(Some(row));
        }
        self.fresh_agent_row(id).await
    }

    /// An agent row read from the database (and refreshed in the cache).
    async fn fresh_agent_row(
        &self,
        id: &str,
    ) -> Result<Option<std::sync::Arc<AgentRow>>, ApiError> {
        let epoch = self.0.cache.epoch();
        Ok(self
            .0
            .store
            .agent_by_id(id)
            .await?
            .map(|r| self.0.cache.put_agent(r, epoch)))
    }

    /// The `audit` command's checks (see [`crate::audit`]) over this server's database:
    /// how many cells were read, and the findings.
    pub async fn audit(&self) -> Result<(usize, Vec<crate::audit::Finding>), ApiError> {
        let cells = self.0.store.text_cells().await?;
        Ok((cells.len(), crate::audit::audit(&cells, &self.0.at_rest)))
    }

    /// The database's plan for one page of an owner's agent list (see
    /// [`crate::store::ListStore::explain_listing`]): for the benchmark and index tests.
    pub async fn explain_agent_list(
        &self,
        owner_id: &str,
        listing: &crate::store::AgentListing,
        forbid_scans: bool,
    ) -> Result<Vec<String>, ApiError> {
        Ok(self
            .0
            .store
            .explain_listing(owner_id, listing, forbid_scans)
            .await?)
    }

    /// Readiness: not draining, and the database answers.
    pub async fn ready(&self) -> bool {
        !self.draining() && self.0.store.ping().await.is_ok()
    }

    fn seal(&self, table: &str, column: &str, row: &str, plaintext: &[u8]) -> String {
        self.0.at_rest.seal(Slot { table, column, row }, plaintext)
    }

    fn open(
        &self,
        table: &str,
        column: &str,
        row: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, ApiError> {
        self.0
            .at_rest
            .open(Slot { table, column, row }, sealed)
            .map(|z| z.to_vec())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("at-rest open {table}.{column}: {e}")))
    }

    /// Housekeeping run by the background task: prune expired rows (and roll the
    /// heartbeat history up before pruning it). Offline agents are the sweep's (`sweep`).
    pub async fn maintain(&self) -> Result<(), ApiError> {
        let now = self.now();
        let s = &self.0.settings;
        self.0
            .store
            .prune(
                now,
                now - 2 * s.handshake_window_secs,
                now - s.activity_retention_days * 86400,
            )
            .await?;
        self.roll_up_history().await?;
        self.prune_history().await?;
        self.0
            .store
            .prune_deliveries(now - s.activity_retention_days * 86400)
            .await?;
        Ok(())
    }
}
