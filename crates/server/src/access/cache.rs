//! A short-lived, per-replica cache of agent rows and agent-token lookups, so a heartbeat
//! from a known agent needs no database read. The handshake does not read from it (it
//! must cost the same for known and unknown agents), but refreshes it.
//!
//! Changes made through this replica invalidate the agent and its tokens at once; on
//! PostgreSQL, so do changes made through another replica, as soon as its notice arrives
//! (see `bus`). Entries live at most [`TTL`], so even a lost notice (or a replica on
//! SQLite sharing the file) is seen here within that time, inside SPEC §3's 10 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::AgentRow;

pub const TTL: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 200_000;

#[derive(Clone)]
pub struct TokenEntry {
    pub agent_id: String,
    pub expires_at: i64,
}

#[derive(Default)]
pub struct AgentCache {
    agents: Mutex<HashMap<String, (Instant, Arc<AgentRow>)>>,
    tokens: Mutex<HashMap<String, (Instant, TokenEntry)>>,
}

fn fresh<T: Clone>(map: &Mutex<HashMap<String, (Instant, T)>>, key: &str) -> Option<T> {
    let map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.get(key)
        .filter(|(at, _)| at.elapsed() < TTL)
        .map(|(_, v)| v.clone())
}

fn put<T>(map: &Mutex<HashMap<String, (Instant, T)>>, key: String, value: T) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, (at, _)| at.elapsed() < TTL);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
    map.insert(key, (Instant::now(), value));
}

impl AgentCache {
    pub fn agent(&self, id: &str) -> Option<Arc<AgentRow>> {
        fresh(&self.agents, id)
    }

    pub fn put_agent(&self, row: AgentRow) -> Arc<AgentRow> {
        let row = Arc::new(row);
        put(&self.agents, row.id.clone(), row.clone());
        row
    }

    pub fn token(&self, hash: &str) -> Option<TokenEntry> {
        fresh(&self.tokens, hash)
    }

    pub fn put_token(&self, hash: &str, entry: TokenEntry) {
        put(&self.tokens, hash.to_string(), entry);
    }

    /// Forgets everything (after notices from other replicas may have been missed).
    pub fn clear(&self) {
        self.agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Forgets an agent and every cached token of it.
    pub fn invalidate(&self, agent_id: &str) {
        self.agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(agent_id);
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (_, t)| t.agent_id != agent_id);
    }
}
