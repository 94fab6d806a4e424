//! The dashboard's open event streams (`GET /api/events`) on this replica, by owner.
//!
//! A change (made here, or announced by another replica: see `bus`) is queued in the
//! inbox of each stream its owner has open here (see `inbox`: per agent, the agents a
//! page shows first); for an owner with none nothing is built or woken. The stream reads
//! what is queued in batches (one database read a batch: see `handlers::events`), so a
//! burst — every agent of an owner swept offline together, a flush of thousands of
//! heartbeats on another replica — delays a later change by a few batches, not by one
//! read per change queued ahead of it, and a watched agent's change by at most one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::inbox::{Inbox, Scope};
use super::AppState;

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
    /// Registers an event stream for `owner`'s changes on this replica, scoped by `scope`.
    pub fn subscribe_changes(&self, owner: &str, scope: Scope) -> Subscription {
        let inbox = Arc::new(Inbox::new(scope));
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
