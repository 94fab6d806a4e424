//! Failure-based rate limiting, per key (an account, an agent, a client address).
//!
//! Each key may fail `max_failures` times within `window`; after that it is refused
//! (429 with `Retry-After`) until the window that began with its first failure ends.
//! A success clears the key. Limits are per replica, in memory: they slow brute force,
//! while the real defence is the 256-bit secrets and Argon2id.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::SharedClock;

pub struct RateLimiter {
    max_failures: u32,
    window: i64,
    clock: SharedClock,
    entries: Mutex<HashMap<String, (u32, i64)>>,
}

impl RateLimiter {
    pub fn new(max_failures: u32, window_secs: i64, clock: SharedClock) -> Self {
        Self {
            max_failures,
            window: window_secs,
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after_secs)` while `key` is locked out.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = self.clock.now();
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some(&(count, start)) if now - start < self.window => {
                if count >= self.max_failures {
                    Err((start + self.window - now).max(1) as u64)
                } else {
                    Ok(())
                }
            }
            Some(_) => {
                map.remove(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub fn fail(&self, key: &str) {
        let now = self.clock.now();
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, start)| now - *start < window);
        }
        let entry = map.entry(key.to_string()).or_insert((0, now));
        if now - entry.1 >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn succeed(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn locks_after_max_failures_until_window_ends() {
        let clock = ManualClock::new(1000);
        let rl = RateLimiter::new(3, 60, Arc::new(clock.clone()));
        for _ in 0..3 {
            assert!(rl.check("k").is_ok());
            rl.fail("k");
        }
        assert_eq!(rl.check("k"), Err(60));
        assert!(rl.check("other").is_ok());
        clock.advance(59);
        assert_eq!(rl.check("k"), Err(1));
        clock.advance(1);
        assert!(rl.check("k").is_ok());
    }

    #[test]
    fn success_clears() {
        let rl = RateLimiter::new(1, 60, Arc::new(ManualClock::new(0)));
        rl.fail("k");
        assert!(rl.check("k").is_err());
        rl.succeed("k");
        assert!(rl.check("k").is_ok());
    }
}
