//! Status counts of the agent list, kept per owner (and fleet) once an owner has
//! thousands of agents, and refreshed off the request path.
//!
//! A count is an index-only range scan over the owner's `(owner_id, status, …)` entries
//! (migration 0013): microseconds for a few hundred agents, but about 35 ms on PostgreSQL
//! and 10 ms on SQLite at 100 000. Below [`COUNT_EVERY_TIME_BELOW`] agents it runs on every
//! request, so counts are exact. Above, a request answers with the counts it has; once
//! they are [`MAX_AGE`] old, the request that finds them so starts one recount in the
//! background ([`CountsCache::get`] says whether to), so no page waits for a count after
//! the first and the counts an answer carries are at most [`MAX_AGE`] plus one count old
//! (older only if counting keeps failing, then at most [`DROP_AFTER`]). Each replica keeps
//! its own.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::StatusCounts;

/// Owners (or fleets) with fewer agents are counted on every request.
pub const COUNT_EVERY_TIME_BELOW: i64 = 2000;
/// Counts older than this are recounted (in the background).
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// Counts older than this are not answered with any more: the request counts itself.
pub const DROP_AFTER: Duration = Duration::from_secs(30);
/// Entries kept at most (an owner naming many fleet ids cannot grow it without bound).
const MAX_ENTRIES: usize = 10_000;

type Key = (String, Option<String>);

#[derive(Default)]
struct Map {
    counts: HashMap<Key, (Instant, StatusCounts)>,
    /// Scopes a background recount is running for.
    counting: HashSet<Key>,
}

#[derive(Default)]
pub struct CountsCache {
    map: Mutex<Map>,
}

/// What [`CountsCache::get`] found.
pub enum Cached {
    /// Recent enough.
    Fresh(StatusCounts),
    /// Answer with these, and recount in the background (this caller was chosen to).
    Recount(StatusCounts),
    /// Count now.
    Missing,
}

fn key(owner: &str, fleet: Option<&str>) -> Key {
    (owner.to_string(), fleet.map(str::to_string))
}

impl CountsCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counts kept for `(owner, fleet)`, when the scope is large enough to keep them.
    pub fn get(&self, owner: &str, fleet: Option<&str>) -> Cached {
        let k = key(owner, fleet);
        let mut map = self.lock();
        let Some((at, counts)) = map.counts.get(&k) else {
            return Cached::Missing;
        };
        let age = at.elapsed();
        if age >= DROP_AFTER {
            return Cached::Missing;
        }
        let counts = counts.clone();
        if age < MAX_AGE || !map.counting.insert(k) {
            return Cached::Fresh(counts);
        }
        Cached::Recount(counts)
    }

    /// Keeps fresh counts (and ends the background recount of the scope, if any).
    pub fn put(&self, owner: &str, fleet: Option<&str>, counts: &StatusCounts) {
        let k = key(owner, fleet);
        let mut map = self.lock();
        map.counting.remove(&k);
        let total: i64 = counts.iter().map(|c| c.1).sum();
        if total < COUNT_EVERY_TIME_BELOW {
            map.counts.remove(&k);
            return;
        }
        if map.counts.len() >= MAX_ENTRIES {
            map.counts.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
            if map.counts.len() >= MAX_ENTRIES {
                map.counts.clear();
            }
        }
        map.counts.insert(k, (Instant::now(), counts.clone()));
    }

    /// A background recount failed: the next request past [`MAX_AGE`] tries again.
    pub fn failed(&self, owner: &str, fleet: Option<&str>) {
        self.lock().counting.remove(&key(owner, fleet));
    }
}
