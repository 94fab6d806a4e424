//! A failure counter per key, with bounded memory: the mechanism under every limit in
//! [`super::limits`].
//!
//! A key may fail `max_failures` times in a window that starts with its first failure.
//! [`FailureLimiter::hit`] counts one attempt and refuses (with the seconds until the
//! window ends) once the key is at its limit, in one step under the key's lock, so a
//! burst of parallel attempts cannot slip past the count. Keys are reduced to a keyed
//! SipHash (random per process, so nobody can aim collisions or shards) and kept in
//! sharded LRU maps of fixed capacity: a flood of distinct keys evicts the least recently
//! used counters instead of growing memory, and no operation scans a map.
//! Limits are per replica, in memory: they slow guessing, while the real defence is the
//! 256-bit secrets and Argon2id.

use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

use hashlink::LruCache;

use crate::clock::SharedClock;

const SHARDS: usize = 16;

/// Failures of one key in its current window.
#[derive(Clone, Copy)]
struct Window {
    start: i64,
    failures: u32,
}

pub struct FailureLimiter {
    name: &'static str,
    max_failures: u32,
    window: i64,
    clock: SharedClock,
    hasher: RandomState,
    shards: Box<[Mutex<LruCache<u64, Window>>]>,
}

impl FailureLimiter {
    /// `capacity` is the most keys remembered at once (spread over the shards).
    pub fn new(
        name: &'static str,
        max_failures: u32,
        window_secs: i64,
        capacity: usize,
        clock: SharedClock,
    ) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            name,
            max_failures,
            window: window_secs,
            clock,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
        }
    }

    /// What this limiter counts (for logs and metrics).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Counts one attempt against `key`, or, when the key already has `max_failures` in
    /// its window, counts nothing and returns `Err(seconds until the window ends)`.
    pub fn hit(&self, key: &impl Hash) -> Result<(), u64> {
        let now = self.clock.now();
        self.with_entry(key, |map, id| match map.get_mut(&id) {
            Some(w) if now - w.start < self.window => {
                if w.failures >= self.max_failures {
                    Err((w.start + self.window - now).max(1) as u64)
                } else {
                    w.failures += 1;
                    Ok(())
                }
            }
            _ => {
                map.insert(
                    id,
                    Window {
                        start: now,
                        failures: 1,
                    },
                );
                Ok(())
            }
        })
    }

    /// Takes back one attempt counted by [`Self::hit`] that turned out not to be a failure.
    pub fn refund(&self, key: &impl Hash) {
        let now = self.clock.now();
        self.with_entry(key, |map, id| {
            if let Some(w) = map.peek_mut(&id) {
                if now - w.start < self.window {
                    w.failures = w.failures.saturating_sub(1);
                }
            }
        })
    }

    /// Forgets every failure of `key`.
    pub fn clear(&self, key: &impl Hash) {
        self.with_entry(key, |map, id| {
            map.remove(&id);
        })
    }

    fn with_entry<T>(
        &self,
        key: &impl Hash,
        f: impl FnOnce(&mut LruCache<u64, Window>, u64) -> T,
    ) -> T {
        let id = self.hasher.hash_one(key);
        let shard = &self.shards[(id >> 60) as usize % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn limiter(max: u32, capacity: usize, clock: &ManualClock) -> FailureLimiter {
        FailureLimiter::new("test", max, 60, capacity, Arc::new(clock.clone()))
    }

    #[test]
    fn refuses_past_the_limit_until_the_window_ends() {
        let clock = ManualClock::new(1000);
        let rl = limiter(3, 100, &clock);
        for _ in 0..3 {
            assert_eq!(rl.hit(&"k"), Ok(()));
        }
        assert_eq!(rl.hit(&"k"), Err(60));
        assert_eq!(rl.hit(&"other"), Ok(()));
        clock.advance(59);
        assert_eq!(rl.hit(&"k"), Err(1));
        clock.advance(1);
        assert_eq!(rl.hit(&"k"), Ok(()));
    }

    #[test]
    fn refund_and_clear_give_attempts_back() {
        let clock = ManualClock::new(0);
        let rl = limiter(1, 100, &clock);
        rl.hit(&"k").unwrap();
        assert!(rl.hit(&"k").is_err());
        rl.refund(&"k");
        rl.hit(&"k").unwrap();
        rl.clear(&"k");
        rl.hit(&"k").unwrap();
    }

    #[test]
    fn parallel_hits_never_pass_the_limit() {
        let clock = ManualClock::new(0);
        let rl = Arc::new(limiter(5, 100, &clock));
        let passed: usize = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let rl = rl.clone();
                    s.spawn(move || (0..100).filter(|_| rl.hit(&"k").is_ok()).count())
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(passed, 5);
    }

    #[test]
    fn memory_is_bounded_and_the_least_recent_key_goes_first() {
        let clock = ManualClock::new(0);
        let rl = limiter(1, SHARDS * 4, &clock);
        rl.hit(&"old").unwrap();
        for i in 0..10_000 {
            let _ = rl.hit(&i);
        }
        let held: usize = rl.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held <= SHARDS * 4, "{held} keys held");
        // The oldest counter was evicted, so the key starts afresh.
        assert_eq!(rl.hit(&"old"), Ok(()));
    }
}
