//! Heartbeats are telemetry. Each agent's latest reported state (last seen, status,
//! metrics, versions, config delivery) is kept here, in memory, and a heartbeat is
//! acknowledged as soon as it is; a background flusher writes the latest states and the
//! history samples to the database in one transaction every [`FLUSH_EVERY`] (so at most
//! a second apart while the database keeps up).
//!
//! **Durability.** A crash (not a graceful stop, which flushes: see `drain`) loses the
//! heartbeats of the last flush interval; agents send them again within their interval.
//! Nothing else is written this way: used signatures, tokens, configs and every other
//! control-plane write still commit before they are acknowledged.
//!
//! **Bounded memory.** Latest states coalesce per agent (one entry an agent, whatever
//! its rate). History samples queue up to `Settings::heartbeat_history_queue`; while the
//! database falls behind, a sample that finds the queue full is dropped and counted
//! (`openclaw_fleet_heartbeat_samples_dropped_total`): the latest state is still
//! updated, so only the chart loses points. A flush that fails puts its states back
//! (unless newer ones arrived) and its samples back as far as the bound allows.
//!
//! **Reads merge.** Whatever shows an agent's state reads its row and then applies what
//! is here and newer ([`Latest::read_merged`]), with the SQL's own rules (a field the
//! newer heartbeat leaves out keeps its stored value). A flush that commits between the
//! read and the merge takes its states out of memory once they are in the database, so
//! a read that a flush overtook is done again: an acknowledged heartbeat is never shown
//! older than it is.
//!
//! **Secrets' last use.** An accepted handshake's `secret_last_used_at` is telemetry too
//! ([`Latest::secret_used`]): kept here, merged into reads, and written by the same flush,
//! only while the agent still has the credentials it was verified against. The handshake's
//! used signature and token are not: they commit before it is answered (`access::writer`).
//!
//! **Replicas.** Each replica flushes what it received; the flush never moves an agent's
//! `last_seen` back. Other replicas' dashboards hear of a heartbeat once it is flushed
//! (their views then read it from the database); this replica's at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::store::{
    AgentCredentials, AgentRow, HeartbeatRecord, HeartbeatSample, SecretUse, SharedStore,
    StoreError,
};
use crate::telemetry::names;

/// How often the flusher writes what arrived (a flush that takes longer delays the next).
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// How many times [`Latest::read_merged`] reads again when flushes overtake its read.
const READ_AGAIN: u32 = 3;

struct Entry {
    /// The agent's row as this replica had it when the heartbeat arrived (for its owner).
    agent: Arc<AgentRow>,
    record: HeartbeatRecord,
    /// The second of this agent's last sample queued while this entry was pending.
    sampled: Option<i64>,
}

#[derive(Default)]
struct Buffer {
    /// Latest states not yet handed to a flush.
    pending: HashMap<Arc<str>, Entry>,
    /// The states the running flush is writing (still newer than the database).
    in_flight: Arc<HashMap<Arc<str>, Entry>>,
    samples: Vec<HeartbeatSample>,
    /// Accepted handshakes' last uses not yet handed to a flush, and those being written.
    uses: HashMap<Arc<str>, SecretUse>,
    uses_in_flight: Arc<HashMap<Arc<str>, SecretUse>>,
    /// How many flushes have committed (and so taken their states out of memory).
    committed: u64,
    /// After the shutdown flush began: nothing more is accepted.
    closed: bool,
}

/// The buffer of one replica.
pub(super) struct Latest {
    buf: Mutex<Buffer>,
    /// One flush at a time (the periodic one, or the shutdown flush).
    flushing: tokio::sync::Mutex<()>,
    max_samples: usize,
    dropped: AtomicU64,
}

/// The buffer refused a heartbeat: the server is shutting down.
pub(super) struct Closed;

impl Latest {
    pub fn new(max_samples: usize) -> Self {
        Self {
            buf: Mutex::default(),
            flushing: tokio::sync::Mutex::new(()),
            max_samples,
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a heartbeat: the agent's latest state, and one history sample.
    pub fn record(
        &self,
        agent: &Arc<AgentRow>,
        mut record: HeartbeatRecord,
        sample: HeartbeatSample,
    ) -> Result<(), Closed> {
        let mut buf = self.lock();
        if buf.closed {
            return Err(Closed);
        }
        let mut sampled = None;
        if let Some(old) = buf.pending.get(&record.agent_id) {
            keep_unsaid(&mut record, &old.record);
            sampled = old.sampled;
        }
        // History keeps one sample an agent and second, the first (`ON CONFLICT DO
        // NOTHING`): a later one of the same second is not queued, only to be skipped by
        // the insert (nor can an agent heartbeating many times a second fill the queue).
        if sampled != Some(sample.ts) {
            if buf.samples.len() < self.max_samples {
                sampled = Some(sample.ts);
                buf.samples.push(sample);
            } else {
                self.count_dropped(1);
            }
        }
        buf.pending.insert(
            record.agent_id.clone(),
            Entry {
                agent: agent.clone(),
                record,
                sampled,
            },
        );
        Ok(())
    }

    /// Keeps the last use of `row`'s credentials (an accepted handshake at `at`), for
    /// the next flush; shown at once by reads. Accepted while closed too: a use that comes
    /// after the shutdown flush is lost, as telemetry may be.
    pub fn secret_used(&self, row: &AgentRow, at: i64) {
        let used = SecretUse {
            agent_id: row.id.clone(),
            at,
            creds: AgentCredentials {
                identity: row.identity.clone(),
                secret_sealed: row.secret_sealed.clone(),
                public_key: row.public_key.clone(),
            },
        };
        let mut buf = self.lock();
        match buf.uses.get_mut(row.id.as_str()) {
            Some(old) if old.creds == used.creds && old.at >= at => {}
            Some(old) => *old = used,
            None => {
                buf.uses.insert(row.id.as_str().into(), used);
            }
        }
    }

    fn count_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(names::HEARTBEAT_SAMPLES_DROPPED).increment(n);
    }

    /// History samples dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Reads rows with `read` (`rows` picks them out of its result) and applies to them
    /// what this replica holds that the database may not have yet. If a flush committed
    /// while `read` ran, the rows may predate what it wrote and what it wrote is no longer
    /// held here, so `read` runs again (flushes are [`FLUSH_EVERY`] apart; after
    /// [`READ_AGAIN`] overtaken reads the last one is merged as it is).
    pub async fn read_merged<T, E, Fut>(
        &self,
        mut read: impl FnMut() -> Fut,
        rows: impl Fn(&mut T) -> &mut [AgentRow],
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let mut again = 0;
        loop {
            let mark = self.lock().committed;
            let mut value = read().await?;
            {
                let buf = self.lock();
                if buf.committed == mark || again == READ_AGAIN {
                    for row in rows(&mut value) {
                        merge_from(&buf, row);
                    }
                    return Ok(value);
                }
            }
            again += 1;
        }
    }

    /// Forgets a deleted agent's unflushed state (a flush would skip it anyway).
    pub fn forget(&self, agent_id: &str) {
        self.lock().pending.remove(agent_id);
    }

    /// Stops accepting heartbeats (the shutdown flush follows).
    pub fn close(&self) {
        self.lock().closed = true;
    }

    /// Writes everything buffered in one transaction. Returns the rows of the agents
    /// written (as cached when their heartbeats arrived), for the other replicas' notices.
    pub async fn flush(&self, store: &SharedStore) -> Result<Vec<Arc<AgentRow>>, StoreError> {
        let _one = self.flushing.lock().await;
        let uses = {
            let mut buf = self.lock();
            buf.uses_in_flight = Arc::new(std::mem::take(&mut buf.uses));
            buf.uses_in_flight.clone()
        };
        if !uses.is_empty() {
            let list: Vec<SecretUse> = uses.values().cloned().collect();
            let written = store.write_secret_uses(&list).await;
            let mut buf = self.lock();
            buf.uses_in_flight = Arc::default();
            match written {
                Ok(()) => buf.committed += 1,
                Err(e) => {
                    // Put back behind anything newer; the heartbeats are written anyway.
                    tracing::error!(error = %e, "writing secrets' last use failed; retrying");
                    for (id, old) in uses.iter() {
                        buf.uses.entry(id.clone()).or_insert_with(|| old.clone());
                    }
                }
            }
        }
        let (in_flight, samples) = self.begin_flush();
        metrics::gauge!(names::HEARTBEAT_QUEUE).set(samples.len() as f64);
        if in_flight.is_empty() && samples.is_empty() {
            return Ok(Vec::new());
        }
        // Exposed from the first flush on, so a scrape shows 0 rather than nothing.
        metrics::counter!(names::HEARTBEAT_SAMPLES_DROPPED).increment(0);
        let latest: Vec<HeartbeatRecord> = in_flight.values().map(|e| e.record.clone()).collect();
        let started = std::time::Instant::now();
        let written = {
            let _timer = crate::telemetry::BatchTimer::start(latest.len() + samples.len());
            store.write_telemetry(&latest, &samples).await
        };
        tracing::debug!(
            agents = latest.len(),
            samples = samples.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "heartbeat flush"
        );
        self.end_flush(in_flight, samples, written)
    }

    /// Hands the pending states and samples to a flush (the states stay readable).
    fn begin_flush(&self) -> (Arc<HashMap<Arc<str>, Entry>>, Vec<HeartbeatSample>) {
        let mut buf = self.lock();
        let pending = std::mem::take(&mut buf.pending);
        buf.in_flight = Arc::new(pending);
        (buf.in_flight.clone(), std::mem::take(&mut buf.samples))
    }

    /// After the flush's write: forgets what was written, or puts back what was not.
    fn end_flush(
        &self,
        in_flight: Arc<HashMap<Arc<str>, Entry>>,
        samples: Vec<HeartbeatSample>,
        written: Result<(), StoreError>,
    ) -> Result<Vec<Arc<AgentRow>>, StoreError> {
        let mut buf = self.lock();
        buf.in_flight = Arc::default();
        match written {
            Ok(()) => {
                buf.committed += 1;
                Ok(in_flight.values().map(|e| e.agent.clone()).collect())
            }
            Err(e) => {
                // Put back what was not written, behind anything newer.
                let in_flight = Arc::try_unwrap(in_flight).unwrap_or_else(|a| {
                    a.iter()
                        .map(|(k, e)| {
                            (
                                k.clone(),
                                Entry {
                                    agent: e.agent.clone(),
                                    record: e.record.clone(),
                                    sampled: e.sampled,
                                },
                            )
                        })
                        .collect()
                });
                for (id, old) in in_flight {
                    match buf.pending.get_mut(&id) {
                        Some(newer) => keep_unsaid(&mut newer.record, &old.record),
                        None => {
                            buf.pending.insert(id, old);
                        }
                    }
                }
                let room = self.max_samples.saturating_sub(buf.samples.len());
                let lost = samples.len().saturating_sub(room);
                let mut back: Vec<HeartbeatSample> = samples.into_iter().skip(lost).collect();
                back.append(&mut buf.samples);
                buf.samples = back;
                if lost > 0 {
                    self.count_dropped(lost as u64);
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// A newer heartbeat that leaves a field out keeps the older one's (the SQL's COALESCE).
fn keep_unsaid(newer: &mut HeartbeatRecord, older: &HeartbeatRecord) {
    fn keep<T: Clone>(new: &mut Option<T>, old: &Option<T>) {
        if new.is_none() {
            new.clone_from(old);
        }
    }
    keep(&mut newer.agent_version, &older.agent_version);
    keep(
        &mut newer.config_version_applied,
        &older.config_version_applied,
    );
    keep(&mut newer.machine_id, &older.machine_id);
    keep(&mut newer.location, &older.location);
    keep(&mut newer.model, &older.model);
}

fn merge_from(buf: &Buffer, row: &mut AgentRow) {
    for map in [&*buf.in_flight, &buf.pending] {
        if let Some(e) = map.get(row.id.as_str()) {
            apply(&e.record, row);
        }
    }
    for map in [&*buf.uses_in_flight, &buf.uses] {
        if let Some(u) = map.get(row.id.as_str()) {
            apply_use(u, row);
        }
    }
}

/// What `BatchStore::write_secret_uses` does to the row, in memory.
fn apply_use(u: &SecretUse, row: &mut AgentRow) {
    let same = row.identity == u.creds.identity
        && row.secret_sealed == u.creds.secret_sealed
        && row.public_key == u.creds.public_key;
    if same && row.secret_last_used_at.is_none_or(|t| t < u.at) {
        row.secret_last_used_at = Some(u.at);
    }
}

/// What `store::telemetry`'s UPDATE does to the row, in memory.
fn apply(hb: &HeartbeatRecord, row: &mut AgentRow) {
    if row.last_seen.is_some_and(|seen| seen > hb.ts) {
        return;
    }
    row.status = Some(hb.status.into());
    row.last_seen = Some(hb.ts);
    row.metrics = Some(hb.metrics_json.clone());
    if hb.agent_version.is_some() {
        row.agent_version.clone_from(&hb.agent_version);
    }
    if hb.config_version_applied.is_some() {
        row.config_version_applied = hb.config_version_applied;
    }
    row.last_error.clone_from(&hb.error);
    row.config_delivery = hb.config_delivery.map(str::to_owned);
}

impl super::AppState {
    /// Writes the heartbeats buffered so far now (before reads that need the database
    /// to be current: offline detection, the status gauge; at shutdown; in tests).
    pub async fn flush_heartbeats(&self) -> Result<(), crate::error::ApiError> {
        let written = self.0.latest.flush(&self.0.store).await?;
        notify_replicas(&self.0, written);
        Ok(())
    }

    /// History samples dropped so far because the database fell behind (see the module).
    pub fn heartbeat_samples_dropped(&self) -> u64 {
        self.0.latest.dropped()
    }
}

/// Tells the other replicas about the agents a flush wrote: one notice line per owner and
/// batch of ids (this replica's own streams heard of each heartbeat when it arrived).
fn notify_replicas(inner: &Arc<super::Inner>, written: Vec<Arc<AgentRow>>) {
    let state = super::AppState(inner.clone());
    state.notify_changes(
        written.iter().map(|a| (a.owner_id.as_str(), a.id.as_str())),
        false,
    );
}

/// Flushes every [`FLUSH_EVERY`] for as long as the server lives; other replicas hear
/// of what each flush wrote.
pub(super) async fn run_flusher(state: Weak<super::Inner>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = state.upgrade() else { return };
        match inner.latest.flush(&inner.store).await {
            Ok(written) => notify_replicas(&inner, written),
            Err(e) => tracing::error!(error = %e, "heartbeat flush failed; retrying"),
        }
    }
}
