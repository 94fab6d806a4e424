//! Alerts at run time: feeds the evaluator (`crate::alerts::engine`) from what this
//! server already learns, and sends what it answers.
//!
//! - Heartbeats received here are fed at once (their facts only: status, `config_…` or
//!   `gateway_unreachable` error, CPU, memory). On PostgreSQL, a heartbeat of an owner
//!   who has rules is also published on the replicas' bus (`h` notice, ids and those
//!   facts, never a value of the agent's), so every replica's evaluator sees every
//!   heartbeat; so are plaintext-secret sightings (`p`) and rule changes (`r`).
//! - Offline deadlines are checked by a one-second tick against the server's clock (a
//!   test moves its manual clock); `last_seen` of every agent is read once at start.
//! - **Once, not once per replica**: every replica evaluates, only the leader sends. The
//!   leader is the replica holding a PostgreSQL session advisory lock
//!   ([`LEADER_LOCK`]) on a connection of its own; it checks the connection every
//!   [`LEADER_CHECK`], and when it dies (or the replica drains) the lock is released and
//!   another replica takes it within [`LEADER_CHECK`]. Notices due during a hand-over may
//!   be lost (documented in docs/security.md). SQLite has one server: it always sends.
//! - Sending runs in tasks (at most [`SENDING`] at once) with bounded retries; each
//!   notice leaves one delivery row. The URL and signing secret are opened from their
//!   sealed form only for the send; logs name the rule, agent and host, never the URL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Connection;
use tokio::sync::{mpsc, Semaphore};

use super::*;
use crate::alerts::engine::{Engine, Facts, Notice};
use crate::alerts::{webhook, Condition, Rule, WebhookKind};
use crate::error::ApiResult;
use crate::store::{AlertRuleRow, DeliveryRow};

/// The advisory lock key of the alert sender (an arbitrary constant: "ocfalert").
pub const LEADER_LOCK: i64 = 0x6f63_6661_6c65_7274;
/// How often the leader checks its lock's connection, and others retry taking it.
const LEADER_CHECK: Duration = Duration::from_secs(2);
/// Deliveries in flight at most.
const SENDING: usize = 32;
/// Notices waiting to be sent beyond this are dropped (with a warning).
const QUEUE: usize = 4096;

/// This replica's alert state.
pub(super) struct Alerts {
    engine: Mutex<Engine>,
    leader: AtomicBool,
    queue: mpsc::Sender<Notice>,
    receiver: Mutex<Option<mpsc::Receiver<Notice>>>,
}

impl Alerts {
    pub fn new() -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        Self {
            engine: Mutex::new(Engine::default()),
            leader: AtomicBool::new(false),
            queue,
            receiver: Mutex::new(Some(rx)),
        }
    }

    fn engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A stored rule as the evaluator holds it (`None`: a condition this build does not know).
pub(super) fn rule_of(r: &AlertRuleRow) -> Option<Rule> {
    Some(Rule {
        id: r.id.clone(),
        owner_id: r.owner_id.clone(),
        fleet_id: r.fleet_id.clone(),
        name: r.name.clone(),
        condition: Condition::parse(&r.condition)?,
        threshold: r.threshold.unwrap_or(0.0),
        for_secs: r.for_secs,
        cooldown_secs: r.cooldown_secs,
        kind: WebhookKind::parse(&r.webhook_kind)?,
        host: r.webhook_host.clone(),
        url_sealed: r.url_sealed.clone(),
        secret_sealed: r.secret_sealed.clone(),
    })
}

/// The facts of a heartbeat that rules look at.
pub(super) fn facts_of(
    status: &str,
    error: Option<&str>,
    metrics: &std::collections::BTreeMap<String, f64>,
) -> Facts {
    let error = error.unwrap_or("");
    let gateway_unreachable = if error == "gateway_unreachable" {
        Some(true)
    } else if metrics.contains_key("latency_ms") || error.is_empty() {
        Some(false)
    } else {
        None
    };
    Facts {
        status_error: status == "error",
        config_failed: error.starts_with("config_"),
        gateway_unreachable,
        cpu: metrics.get("cpu_usage").copied(),
        memory: metrics.get("memory_usage").copied(),
    }
}

impl AppState {
    /// A heartbeat received by this replica.
    pub(crate) fn alert_heartbeat(
        &self,
        owner: &str,
        agent: &str,
        fleet: Option<&str>,
        facts: Facts,
    ) {
        let now = self.now();
        let (notices, publish) = {
            let mut e = self.0.alerts.engine();
            (
                e.heartbeat(agent, owner, fleet, &facts, now),
                e.owner_has_rules(owner),
            )
        };
        if publish {
            self.0
                .bus
                .send_alert_heartbeat(owner, agent, fleet.unwrap_or("-"), &facts.encode());
        }
        self.dispatch(notices);
    }

    /// Another replica's heartbeat (from the bus).
    pub(super) fn alert_remote_heartbeat(
        &self,
        owner: &str,
        agent: &str,
        fleet: &str,
        facts: &str,
    ) {
        let Some(facts) = Facts::decode(facts) else {
            return;
        };
        let fleet = (fleet != "-").then_some(fleet);
        let now = self.now();
        let notices = self
            .0
            .alerts
            .engine()
            .heartbeat(agent, owner, fleet, &facts, now);
        self.dispatch(notices);
    }

    /// An agent sent its secret in plaintext (here, or `remote`ly).
    pub(crate) fn alert_plaintext(&self, owner: &str, agent: &str, remote: bool) {
        let now = self.now();
        let (notices, publish) = {
            let mut e = self.0.alerts.engine();
            (e.plaintext_secret(agent, now), e.owner_has_rules(owner))
        };
        if publish && !remote {
            self.0.bus.send('p', owner, agent);
        }
        self.dispatch(notices);
    }

    /// The owner's rules changed here: reload them, and tell the other replicas.
    pub(crate) async fn alert_rules_changed(&self, owner: &str) -> ApiResult<()> {
        self.0.bus.send('r', owner, "rules");
        self.reload_alert_rules(owner).await
    }

    /// Reads the owner's enabled rules and their agents' last heartbeats.
    pub(super) async fn reload_alert_rules(&self, owner: &str) -> ApiResult<()> {
        let rows = self.0.store.alert_rules(owner).await?;
        let rules: Vec<Arc<Rule>> = rows
            .iter()
            .filter(|r| r.enabled != 0)
            .filter_map(rule_of)
            .map(Arc::new)
            .collect();
        let seeds = if rules.is_empty() {
            Vec::new()
        } else {
            self.0.store.alert_seeds(Some(owner)).await?
        };
        let mut e = self.0.alerts.engine();
        e.set_rules(owner, rules);
        for s in seeds {
            e.seed(&s.id, &s.owner_id, s.fleet_id, s.last_seen);
        }
        Ok(())
    }

    /// Loads every enabled rule and every agent's last heartbeat (once, at start).
    async fn load_alerts(&self) -> ApiResult<()> {
        let rows = self.0.store.enabled_alert_rules().await?;
        let seeds = self.0.store.alert_seeds(None).await?;
        let mut by_owner: std::collections::HashMap<String, Vec<Arc<Rule>>> = Default::default();
        for r in rows.iter().filter_map(rule_of) {
            by_owner
                .entry(r.owner_id.clone())
                .or_default()
                .push(Arc::new(r));
        }
        let mut e = self.0.alerts.engine();
        for (owner, rules) in by_owner {
            e.set_rules(&owner, rules);
        }
        for s in seeds {
            e.seed(&s.id, &s.owner_id, s.fleet_id, s.last_seen);
        }
        Ok(())
    }

    fn dispatch(&self, notices: Vec<Notice>) {
        if notices.is_empty() || !self.0.alerts.leader.load(Ordering::Relaxed) {
            return;
        }
        for n in notices {
            if self.0.alerts.queue.try_send(n).is_err() {
                tracing::warn!("alert queue full; a notice was dropped");
            }
        }
    }

    /// Whether this replica sends alert notices.
    pub fn alert_leader(&self) -> bool {
        self.0.alerts.leader.load(Ordering::Relaxed)
    }

    /// The alert loop: load, then tick, send and follow deletions until the server drains.
    pub async fn run_alerts(&self) {
        while let Err(e) = self.load_alerts().await {
            tracing::warn!(error = e.status().1, "cannot load alert rules; retrying");
            tokio::select! {
                _ = self.until_draining() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
        let leader = match self.0.store.pg_pool() {
            Some(pool) => Some(tokio::spawn(lead(self.clone(), pool))),
            None => {
                self.0.alerts.leader.store(true, Ordering::Relaxed);
                None
            }
        };
        let rx = self
            .0
            .alerts
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut rx) = rx else {
            return;
        };
        let sending = Arc::new(Semaphore::new(SENDING));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = self.until_draining() => break,
                _ = tick.tick() => {
                    let now = self.now();
                    let notices = self.0.alerts.engine().tick(now);
                    self.dispatch(notices);
                }
                Some(n) = rx.recv() => {
                    let Ok(permit) = sending.clone().acquire_owned().await else { break };
                    let state = self.clone();
                    tokio::spawn(async move {
                        state.send_notice(n).await;
                        drop(permit);
                    });
                }
            }
        }
        if let Some(task) = leader {
            task.abort();
        }
        self.0.alerts.leader.store(false, Ordering::Relaxed);
    }

    /// A deletion seen here or through another replica (see `notify_local`): a deleted
    /// agent is forgotten; a deleted fleet takes its rules with it (ON DELETE CASCADE).
    pub(super) fn alert_deleted(&self, owner: &str, id: &str, fleet: bool) {
        if !fleet {
            self.0.alerts.engine().forget(id);
            return;
        }
        let (state, owner) = (self.clone(), owner.to_owned());
        tokio::spawn(async move {
            let _ = state.reload_alert_rules(&owner).await;
        });
    }

    /// Sends one notice and records its delivery.
    async fn send_notice(&self, n: Notice) {
        let rule = n.rule.clone();
        let open = |column: &str, sealed: &str| {
            self.0.at_rest.open(
                crate::crypto::at_rest::Slot {
                    table: "alert_rules",
                    column,
                    row: &rule.id,
                },
                sealed,
            )
        };
        let (Ok(url), Ok(secret)) = (
            open("url_sealed", &rule.url_sealed),
            open("secret_sealed", &rule.secret_sealed),
        ) else {
            tracing::error!(rule_id = %rule.id, "alert rule's webhook does not open under the at-rest key");
            return;
        };
        let agent = match self.0.store.agent_by_id(&n.agent_id).await {
            Ok(a) => a.filter(|a| a.owner_id == rule.owner_id),
            Err(_) => None,
        };
        let name = agent.as_ref().map(|a| a.name.clone());
        let body = webhook::body(rule.kind, &n, name.as_deref());
        let url = String::from_utf8_lossy(&url).into_owned();
        let url = zeroize::Zeroizing::new(url);
        let state = self.clone();
        let outcome = webhook::deliver(
            &url,
            &secret,
            &body,
            self.settings().alert_webhooks_allow_private,
            move || state.now(),
        )
        .await;
        tracing::info!(
            rule_id = %rule.id,
            agent_id = %n.agent_id,
            host = %rule.host,
            event = n.event.as_str(),
            status = outcome.status,
            attempts = outcome.attempts,
            error = outcome.error,
            "alert notice sent"
        );
        let row = DeliveryRow {
            id: 0,
            owner_id: rule.owner_id.clone(),
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            agent_id: Some(n.agent_id.clone()),
            agent_name: name,
            event: n.event.as_str().into(),
            ts: self.now(),
            http_status: outcome.status.map(i64::from),
            error: outcome.error.map(str::to_owned),
            attempts: i64::from(outcome.attempts),
        };
        if let Err(e) = self.0.store.insert_delivery(&row).await {
            tracing::warn!(error = %e, rule_id = %rule.id, "alert delivery not recorded");
        }
    }
}

/// Holds the sender's advisory lock while it can (PostgreSQL; see the module docs).
async fn lead(state: AppState, pool: sqlx::PgPool) {
    let flag = |v: bool| state.0.alerts.leader.store(v, Ordering::Relaxed);
    loop {
        let options = pool.connect_options();
        let conn = tokio::select! {
            _ = state.until_draining() => return,
            c = sqlx::PgConnection::connect_with(&options) => c,
        };
        if let Ok(mut conn) = conn {
            let got: Result<bool, _> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK)
                .fetch_one(&mut conn)
                .await;
            if matches!(got, Ok(true)) {
                flag(true);
                tracing::info!("this replica sends the alert notices");
                loop {
                    tokio::select! {
                        _ = state.until_draining() => {
                            flag(false);
                            let _ = conn.close().await;
                            return;
                        }
                        _ = tokio::time::sleep(LEADER_CHECK) => {}
                    }
                    if sqlx::query("SELECT 1").execute(&mut conn).await.is_err() {
                        break;
                    }
                }
                flag(false);
                tracing::warn!("lost the alert sender's lock connection");
            }
        }
        tokio::select! {
            _ = state.until_draining() => return,
            _ = tokio::time::sleep(LEADER_CHECK) => {}
        }
    }
}
