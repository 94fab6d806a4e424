//! Status counts of the agent list, kept briefly per owner (and fleet) once an owner has
//! thousands of agents.
//!
//! A count is an index-only range scan over the owner's `(owner_id, status, …)` entries
//! (migration 0013): microseconds for a few hundred agents, milliseconds at 100 000. Below
//! [`COUNT_EVERY_TIME_BELOW`] agents it runs on every request, so counts are exact; above,
//! an answer may reuse one at most [`MAX_AGE`] old, so a dashboard paging through 100 000
//! agents does not count them on every page. Each replica keeps its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::StatusCounts;

/// Owners (or fleets) with fewer agents are counted on every request.
pub const COUNT_EVERY_TIME_BELOW: i64 = 2000;
/// The oldest counts an answer may carry.
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// Entries kept at most (an owner naming many fleet ids cannot grow it without bound).
const MAX_ENTRIES: usize = 10_000;

type Key = (String, Option<String>);

#[derive(Default)]
pub struct CountsCache {
    map: Mutex<HashMap<Key, (Instant, StatusCounts)>>,
}

impl CountsCache {
    /// Recent counts for `(owner, fleet)`, when the scope is large enough to reuse them.
    pub fn get(&self, owner: &str, fleet: Option<&str>) -> Option<StatusCounts> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (at, counts) = map.get(&(owner.to_string(), fleet.map(str::to_string)))?;
        let total: i64 = counts.iter().map(|c| c.1).sum();
        (total >= COUNT_EVERY_TIME_BELOW && at.elapsed() < MAX_AGE).then(|| counts.clone())
    }

    pub fn put(&self, owner: &str, fleet: Option<&str>, counts: &StatusCounts) {
        let total: i64 = counts.iter().map(|c| c.1).sum();
        if total < COUNT_EVERY_TIME_BELOW {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            (owner.to_string(), fleet.map(str::to_string)),
            (Instant::now(), counts.clone()),
        );
    }
}
