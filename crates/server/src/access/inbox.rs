//! One open event stream's queue of changes (see `streams`), scoped to what its page shows.
//!
//! Changes coalesce per object: an agent that changed many times before its stream got to
//! it is read and sent once, in its latest state, at the place of its first unsent change.
//! A stream may name the agents its page shows ([`Scope::watch`]): their changes wait in
//! a lane of their own, taken ahead of everything else and never forgotten (the lane holds
//! at most one entry per watched agent), so a watched agent's heartbeat is not queued
//! behind a burst of the owner's other agents. With [`Scope::coarse`] the other agents'
//! changes are only counted (the stream sends the count at most once a second), so such a
//! burst costs the stream nothing but a counter.
//!
//! The other lane holds at most [`MAX_PENDING`] objects. Past that it forgets them and
//! tells its stream to `resync` (the dashboard reloads what it shows); the watched lane is
//! kept.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

/// Most objects a stream reads and sends per batch.
pub const BATCH: usize = 256;
/// Most objects the other lane holds before it asks for a `resync` instead.
pub const MAX_PENDING: usize = 20_000;

/// Which of the owner's changes a stream is sent, and how.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// Agents whose changes go ahead of all others (the agents a page shows).
    pub watch: HashSet<String>,
    /// Other agents' changes (deletions too) are counted, not sent one by one.
    pub coarse: bool,
}

/// What a stream is sent about: an agent, or a fleet when `fleet` is set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Object {
    pub id: String,
    pub fleet: bool,
}

/// One queued change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub object: Object,
    pub deleted: bool,
}

/// What a stream takes from its inbox at once.
#[derive(Debug, Default)]
pub struct Batch {
    /// Changes were forgotten: the stream sends `resync` first.
    pub resync: bool,
    pub changes: Vec<Change>,
}

/// Queued objects in order, each once, with whether it was deleted.
#[derive(Default)]
struct Lane {
    order: VecDeque<Object>,
    queued: HashMap<Object, bool>,
}

impl Lane {
    /// Merges into a queued change of the object; false when it is not queued.
    fn merge(&mut self, object: &Object, deleted: bool) -> bool {
        match self.queued.get_mut(object) {
            Some(d) => {
                *d |= deleted;
                true
            }
            None => false,
        }
    }

    fn push(&mut self, object: Object, deleted: bool) {
        if !self.merge(&object, deleted) {
            self.queued.insert(object.clone(), deleted);
            self.order.push_back(object);
        }
    }

    fn take(&mut self, n: usize, out: &mut Vec<Change>) {
        let n = self.order.len().min(n);
        for object in self.order.drain(..n) {
            let deleted = self.queued.remove(&object).unwrap_or(false);
            out.push(Change { object, deleted });
        }
    }
}

#[derive(Default)]
struct Pending {
    watched: Lane,
    others: Lane,
    /// Other agents' changes counted since the stream last sent the count (`coarse`).
    counted: u64,
    resync: bool,
}

/// One open stream's queue.
#[derive(Default)]
pub struct Inbox {
    scope: Scope,
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Inbox {
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn push(&self, id: &str, fleet: bool, deleted: bool) {
        let watched = !fleet && self.scope.watch.contains(id);
        {
            let mut p = self.lock();
            let object = Object {
                id: id.to_owned(),
                fleet,
            };
            if watched {
                p.watched.push(object, deleted);
            } else if self.scope.coarse && !fleet {
                p.counted += 1;
                if p.counted > 1 {
                    // The stream was woken by the first count and sends them when due.
                    return;
                }
            } else if p.others.merge(&object, deleted) {
            } else if p.others.queued.len() >= MAX_PENDING {
                p.others = Lane::default();
                p.resync = true;
            } else {
                p.others.push(object, deleted);
            }
        }
        self.wake.notify_one();
    }

    pub(super) fn resync(&self) {
        self.lock().resync = true;
        self.wake.notify_one();
    }

    /// Up to [`BATCH`] queued changes, the watched agents' first, then the others oldest
    /// first (empty when nothing is queued).
    pub fn take(&self) -> Batch {
        let mut p = self.lock();
        let mut changes = Vec::new();
        p.watched.take(BATCH, &mut changes);
        let left = BATCH - changes.len();
        p.others.take(left, &mut changes);
        Batch {
            resync: std::mem::take(&mut p.resync),
            changes,
        }
    }

    /// Other agents' changes counted since the last call (`coarse` only), now cleared.
    pub fn take_counted(&self) -> u64 {
        std::mem::take(&mut self.lock().counted)
    }

    /// Whether other agents' changes have been counted and not yet taken.
    pub fn has_counted(&self) -> bool {
        self.lock().counted > 0
    }

    /// Waits until something may have been queued since the last [`Self::take`].
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(batch: &Batch) -> Vec<&str> {
        batch.changes.iter().map(|c| c.object.id.as_str()).collect()
    }

    fn watching(ids: &[&str], coarse: bool) -> Inbox {
        Inbox::new(Scope {
            watch: ids.iter().map(|s| s.to_string()).collect(),
            coarse,
        })
    }

    #[test]
    fn coalesces_per_object_and_keeps_the_first_place() {
        let inbox = Inbox::default();
        inbox.push("a", false, false);
        inbox.push("b", false, false);
        inbox.push("a", false, true);
        inbox.push("a", true, false);
        let batch = inbox.take();
        assert!(!batch.resync);
        let got: Vec<(&str, bool, bool)> = batch
            .changes
            .iter()
            .map(|c| (c.object.id.as_str(), c.object.fleet, c.deleted))
            .collect();
        assert_eq!(
            got,
            [("a", false, true), ("b", false, false), ("a", true, false)]
        );
        assert!(inbox.take().changes.is_empty());
    }

    #[test]
    fn takes_batches_and_overflows_into_a_resync() {
        let inbox = Inbox::default();
        for i in 0..MAX_PENDING {
            inbox.push(&i.to_string(), false, false);
        }
        assert_eq!(inbox.take().changes.len(), BATCH);
        for i in 0..BATCH + 1 {
            inbox.push(&format!("x{i}"), false, false);
        }
        inbox.push("late", false, false);
        let batch = inbox.take();
        assert!(batch.resync);
        assert_eq!(ids(&batch), ["late"]);
        assert!(!inbox.take().resync);
    }

    #[test]
    fn a_watched_agent_goes_ahead_of_a_backlog_and_survives_its_overflow() {
        let inbox = watching(&["w"], false);
        for i in 0..MAX_PENDING - 1 {
            inbox.push(&i.to_string(), false, false);
        }
        inbox.push("w", false, false);
        // Past the limit the others are forgotten, the watched agent is not.
        inbox.push("last", false, false);
        inbox.push("over", false, false);
        inbox.push("after", false, false);
        let batch = inbox.take();
        assert!(batch.resync);
        assert_eq!(ids(&batch), ["w", "after"]);
        // A fleet with the watched agent's id is not the agent.
        inbox.push("w", true, false);
        inbox.push("x", false, false);
        inbox.push("w", false, false);
        let batch = inbox.take();
        assert_eq!(ids(&batch), ["w", "w", "x"]);
        assert!(batch.changes[1].object.fleet);
    }

    #[test]
    fn coarse_counts_the_other_agents_and_sends_fleets() {
        let inbox = watching(&["w"], true);
        for i in 0..50_000 {
            inbox.push(&i.to_string(), false, i % 2 == 0);
        }
        inbox.push("f", true, false);
        inbox.push("w", false, false);
        let batch = inbox.take();
        assert!(!batch.resync);
        assert_eq!(ids(&batch), ["w", "f"]);
        assert!(inbox.has_counted());
        assert_eq!(inbox.take_counted(), 50_000);
        assert!(!inbox.has_counted());
        assert_eq!(inbox.take_counted(), 0);
    }
}
