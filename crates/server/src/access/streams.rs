//! The dashboard's open event streams (`GET /api/events`) on this replica, by owner.
//!
//! A change (made here, or announced by another replica: see `bus`) is queued in the
//! inbox of each stream its owner has open here; for an owner with none nothing is built
//! or woken. An inbox coalesces per object: an agent that changed many times before its
//! stream got to it is read and sent once, in its latest state, at the place of its first
//! unsent change. The stream reads what is queued in batches of up to [`BATCH`] (one
//! database read a batch: see `handlers::events`), so a burst — every agent of an owner
//! swept offline together, a flush of thousands of heartbeats on another replica — delays
//! a later change by a few batches, not by one read per change queued ahead of it.
//!
//! An inbox holds at most [`MAX_PENDING`] objects. Past that it forgets them and tells its
//! stream to `resync` (the dashboard reloads what it shows), as every stream is told when
//! this replica may have missed another's notices; changes queued after that are sent
//! as usual.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::AppState;

/// Most objects a stream reads and sends per batch.
pub const BATCH: usize = 256;
/// Most objects an inbox holds before it asks for a `resync` instead.
pub const MAX_PENDING: usize = 20_000;

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

#[derive(Default)]
struct Pending {
    order: VecDeque<Object>,
    /// Whether each queued object was deleted.
    queued: HashMap<Object, bool>,
    resync: bool,
}

/// One open stream's queue.
#[derive(Default)]
pub struct Inbox {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, id: &str, fleet: bool, deleted: bool) {
        {
            let mut p = self.lock();
            let object = Object {
                id: id.to_owned(),
                fleet,
            };
            if let Some(d) = p.queued.get_mut(&object) {
                *d |= deleted;
            } else if p.queued.len() >= MAX_PENDING {
                p.order.clear();
                p.queued.clear();
                p.resync = true;
            } else {
                p.queued.insert(object.clone(), deleted);
                p.order.push_back(object);
            }
        }
        self.wake.notify_one();
    }

    fn resync(&self) {
        self.lock().resync = true;
        self.wake.notify_one();
    }

    /// Up to [`BATCH`] queued changes, oldest first (empty when nothing is queued).
    pub fn take(&self) -> Batch {
        let mut p = self.lock();
        let n = p.order.len().min(BATCH);
        let objects: Vec<Object> = p.order.drain(..n).collect();
        let changes = objects
            .into_iter()
            .map(|object| {
                let deleted = p.queued.remove(&object).unwrap_or(false);
                Change { object, deleted }
            })
            .collect();
        Batch {
            resync: std::mem::take(&mut p.resync),
            changes,
        }
    }

    /// Waits until something may have been queued since the last [`Self::take`].
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}

/// Every open stream on this replica, by owner.
#[derive(Default)]
pub(super) struct Streams {
    /// How many streams are open (the registry is not even locked while none is).
    open: AtomicUsize,
    by_owner: Mutex<HashMap<String, Vec<Arc<Inbox>>>>,
}

impl Streams {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<Inbox>>>> {
        self.by_owner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues changes to `ids` for the owner's open streams.
    pub fn push<'a>(
        &self,
        owner: &str,
        ids: impl IntoIterator<Item = &'a str>,
        fleet: bool,
        deleted: bool,
    ) {
        if self.open.load(Ordering::Relaxed) == 0 {
            return;
        }
        let map = self.lock();
        let Some(inboxes) = map.get(owner) else {
            return;
        };
        for id in ids {
            for inbox in inboxes {
                inbox.push(id, fleet, deleted);
            }
        }
    }

    /// Tells every open stream to `resync`.
    pub fn resync_all(&self) {
        for inbox in self.lock().values().flatten() {
            inbox.resync();
        }
    }
}

/// An open stream's registration: its inbox, until dropped.
pub struct Subscription {
    state: AppState,
    owner: String,
    inbox: Arc<Inbox>,
}

impl std::ops::Deref for Subscription {
    type Target = Inbox;
    fn deref(&self) -> &Inbox {
        &self.inbox
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let streams = &self.state.0.streams;
        let mut map = streams.lock();
        if let Some(inboxes) = map.get_mut(&self.owner) {
            inboxes.retain(|i| !Arc::ptr_eq(i, &self.inbox));
            if inboxes.is_empty() {
                map.remove(&self.owner);
            }
        }
        streams.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AppState {
    /// Registers an event stream for `owner`'s changes on this replica.
    pub fn subscribe_changes(&self, owner: &str) -> Subscription {
        let inbox = Arc::new(Inbox::default());
        let streams = &self.0.streams;
        streams
            .lock()
            .entry(owner.to_owned())
            .or_default()
            .push(inbox.clone());
        streams.open.fetch_add(1, Ordering::Relaxed);
        Subscription {
            state: self.clone(),
            owner: owner.to_owned(),
            inbox,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(batch.changes.len(), 1);
        assert_eq!(batch.changes[0].object.id, "late");
        assert!(!inbox.take().resync);
    }
}
