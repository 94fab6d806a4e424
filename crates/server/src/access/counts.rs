//! Agent counts of the dashboard — the agent list's status counts per owner (and fleet),
//! and each fleet's agent count in the fleet list — kept once an owner has thousands of
//! agents, and refreshed off the request path.
//!
//! A count is an index-only range scan over the owner's `(owner_id, status, …)` or
//! `(owner_id, fleet_id, …)` entries (migrations 0013, 0016): microseconds for a few
//! hundred agents, but about 35 ms on PostgreSQL and 10 ms on SQLite at 100 000. Below
//! `Settings::count_every_time_below` agents (2 000) it runs on every request, so counts
//! are exact. Above,
//! a request answers with the counts it has; once they are [`MAX_AGE`] old, the request
//! that finds them so starts one recount in the background ([`CountsCache::get`] says
//! whether to), so no request waits for a count after the first and the counts an answer
//! carries are at most [`MAX_AGE`] plus one count old (older only if counting keeps
//! failing, then at most [`DROP_AFTER`]). Each replica keeps its own.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::StoreError;

use super::AppState;

/// Counts older than this are recounted (in the background).
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// Counts older than this are not answered with any more: the request counts itself.
pub const DROP_AFTER: Duration = Duration::from_secs(30);
/// Entries kept at most (an owner naming many fleet ids cannot grow it without bound).
const MAX_ENTRIES: usize = 10_000;

/// Counts per group (a status, a fleet id); their sum is the scope's size.
pub type Counts<T> = Vec<(T, i64)>;

type Key = (String, Option<String>);

struct Map<T> {
    counts: HashMap<Key, (Instant, Counts<T>)>,
    /// Scopes a background recount is running for.
    counting: HashSet<Key>,
}

/// Counts kept per `(owner, fleet)` scope.
pub struct CountsCache<T> {
    map: Mutex<Map<T>>,
    /// Scopes with fewer agents are counted on every request.
    every_time_below: i64,
}

/// What [`CountsCache::get`] found.
pub enum Cached<T> {
    /// Recent enough.
    Fresh(Counts<T>),
    /// Answer with these, and recount in the background (this caller was chosen to).
    Recount(Counts<T>),
    /// Count now.
    Missing,
}

fn key(owner: &str, fleet: Option<&str>) -> Key {
    (owner.to_string(), fleet.map(str::to_string))
}

impl<T: Clone> CountsCache<T> {
    pub fn new(every_time_below: i64) -> Self {
        Self {
            map: Mutex::new(Map {
                counts: HashMap::new(),
                counting: HashSet::new(),
            }),
            every_time_below,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<T>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counts kept for `(owner, fleet)`, when the scope is large enough to keep them.
    pub fn get(&self, owner: &str, fleet: Option<&str>) -> Cached<T> {
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
    pub fn put(&self, owner: &str, fleet: Option<&str>, counts: &Counts<T>) {
        let k = key(owner, fleet);
        let mut map = self.lock();
        map.counting.remove(&k);
        let total: i64 = counts.iter().map(|c| c.1).sum();
        if total < self.every_time_below {
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

/// The counts of `(owner, fleet)` in the cache `pick` chooses: kept ones when the scope
/// is large, else counted now by `count` (which also recounts in the background).
pub async fn kept<T, F, Fut>(
    state: &AppState,
    pick: fn(&AppState) -> &CountsCache<T>,
    owner: &str,
    fleet: Option<&str>,
    count: F,
) -> Result<Counts<T>, StoreError>
where
    T: Clone + Send + 'static,
    F: Fn(AppState, String, Option<String>) -> Fut,
    Fut: Future<Output = Result<Counts<T>, StoreError>> + Send + 'static,
{
    let scope = || (state.clone(), owner.to_string(), fleet.map(str::to_string));
    match pick(state).get(owner, fleet) {
        Cached::Fresh(c) => Ok(c),
        Cached::Recount(c) => {
            let (st, o, f) = scope();
            let counting = count(st.clone(), o.clone(), f.clone());
            tokio::spawn(async move {
                match counting.await {
                    Ok(counts) => pick(&st).put(&o, f.as_deref(), &counts),
                    Err(e) => {
                        pick(&st).failed(&o, f.as_deref());
                        tracing::warn!(error = %e, "background recount failed; will retry");
                    }
                }
            });
            Ok(c)
        }
        Cached::Missing => {
            let (st, o, f) = scope();
            let counts = count(st, o, f).await?;
            pick(state).put(owner, fleet, &counts);
            Ok(counts)
        }
    }
}
