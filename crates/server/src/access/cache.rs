//! A per-replica cache of agent rows and agent-token lookups, so a heartbeat from a
//! known agent reads nothing from the database (in the steady state, not even now and
//! then). The handshake does not read from it (it must cost the same for known and
//! unknown agents), but refreshes it.
//!
//! An entry stays until what it says changes. Changes made through this replica drop
//! the agent's row and tokens at once; on PostgreSQL, so do changes made through another
//! replica, as soon as its notice arrives (see `bus`). Notices can be lost, and SQLite
//! replicas sharing a file have none, so the database also keeps a log of the changes
//! that matter here, written by triggers in the changing transaction (`agent_changes`,
//! migration 0015): every [`POLL_EVERY`] each replica reads its last minute and drops
//! what it names. The cache answers only while that log was read successfully within
//! [`TRUST`]; after that (the database unreachable) every lookup goes to the database.
//! So a rotation, deletion or edit reaches every replica within `TRUST` plus one poll,
//! inside SPEC §3's 10 s, whatever happens to the notices.
//!
//! A lookup that started before an invalidation does not fill the cache with what it
//! read (the epoch check in [`AgentCache::put_token`] and [`AgentCache::put_agent`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::store::AgentRow;

/// How long after the last successful read of the change log the cache still answers.
pub const TRUST: Duration = Duration::from_secs(5);
/// How often each replica reads the change log.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How far back each read of the change log looks (a change that commits late, after
/// one with a higher number, is still seen).
const WINDOW_SECS: i64 = 60;
/// Change-log rows older than this are pruned.
const KEEP_SECS: i64 = 3600;
const MAX_ENTRIES: usize = 400_000;

#[derive(Clone)]
pub struct TokenEntry {
    pub agent_id: Arc<str>,
    pub expires_at: i64,
}

#[derive(Default)]
struct Maps {
    agents: HashMap<String, Arc<AgentRow>>,
    tokens: HashMap<String, TokenEntry>,
}

pub struct AgentCache {
    maps: Mutex<Maps>,
    /// Bumped by every invalidation, under the maps' lock.
    epoch: AtomicU64,
    /// What [`Self::checked`] counts from.
    born: Instant,
    /// When the last successful read of the change log began, in milliseconds since
    /// `born` plus one (0: never). An atomic, so a lookup takes one lock, the maps'.
    checked: AtomicU64,
}

impl Default for AgentCache {
    fn default() -> Self {
        Self {
            maps: Mutex::default(),
            epoch: AtomicU64::new(0),
            born: Instant::now(),
            checked: AtomicU64::new(0),
        }
    }
}

impl AgentCache {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.born).as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the change log was read recently enough for entries to be served.
    fn trusted(&self) -> bool {
        match self.checked.load(Ordering::Acquire) {
            0 => false,
            at => self.millis(Instant::now()) < (at - 1).saturating_add(TRUST.as_millis() as u64),
        }
    }

    fn mark_checked(&self, at: Instant) {
        self.checked
            .fetch_max(self.millis(at).saturating_add(1), Ordering::AcqRel);
    }

    /// Take this before reading what will be put, and hand it to the put.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn agent(&self, id: &str) -> Option<Arc<AgentRow>> {
        if !self.trusted() {
            return None;
        }
        self.maps().agents.get(id).cloned()
    }

    /// Caches a row read when the epoch was `epoch`, unless an invalidation came since.
    pub fn put_agent(&self, row: AgentRow, epoch: u64) -> Arc<AgentRow> {
        let row = Arc::new(row);
        let mut maps = self.maps();
        if self.epoch() == epoch {
            if maps.agents.len() >= MAX_ENTRIES {
                maps.agents.clear();
            }
            maps.agents.insert(row.id.clone(), row.clone());
        }
        row
    }

    pub fn token(&self, hash: &str) -> Option<TokenEntry> {
        if !self.trusted() {
            return None;
        }
        self.maps().tokens.get(hash).cloned()
    }

    /// As [`Self::put_agent`], for a token lookup.
    pub fn put_token(&self, hash: &str, entry: TokenEntry, epoch: u64) {
        let mut maps = self.maps();
        if self.epoch() == epoch {
            if maps.tokens.len() >= MAX_ENTRIES {
                maps.tokens.clear();
            }
            maps.tokens.insert(hash.to_string(), entry);
        }
    }

    /// Forgets everything (after notices from other replicas may have been missed).
    pub fn clear(&self) {
        let mut maps = self.maps();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        maps.agents.clear();
        maps.tokens.clear();
    }

    /// Forgets an agent and every cached token of it.
    pub fn invalidate(&self, agent_id: &str) {
        let mut maps = self.maps();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        maps.agents.remove(agent_id);
        maps.tokens.retain(|_, t| &*t.agent_id != agent_id);
    }
}

/// Reads the change log every [`POLL_EVERY`] for as long as the server lives, drops what
/// it names from the cache and wakes those agents' long-polls (module docs).
pub(super) async fn watch_changes(state: Weak<super::Inner>) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: HashSet<i64> = HashSet::new();
    let mut first = true;
    let mut pruning: Option<tokio::task::JoinHandle<()>> = None;
    for round in 0u64.. {
        tick.tick().await;
        let Some(inner) = state.upgrade() else { return };
        let began = Instant::now();
        match inner.store.recent_agent_changes(WINDOW_SECS).await {
            Ok(rows) => {
                let mut now_seen = HashSet::with_capacity(rows.len());
                for (seq, agent_id) in rows {
                    if !seen.contains(&seq) {
                        inner.cache.invalidate(&agent_id);
                        if !first {
                            let _ = inner.config_saves.send(agent_id);
                        }
                    }
                    now_seen.insert(seq);
                }
                seen = now_seen;
                first = false;
                inner.cache.mark_checked(began);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the agent change log"),
        }
        if round % 60 == 59 && pruning.as_ref().is_none_or(|p| p.is_finished()) {
            // On a task of its own: a DELETE waits for the write lock (on SQLite up to the
            // busy timeout, behind a checkpoint), and the reads must keep their second, or
            // the cache stops answering just when the database is slow.
            let store = inner.store.clone();
            pruning = Some(tokio::spawn(async move {
                if let Err(e) = store.prune_agent_changes(KEEP_SECS).await {
                    tracing::warn!(error = %e, "cannot prune the agent change log");
                }
            }));
        }
    }
}
