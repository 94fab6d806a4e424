//! Time as the agent sees it. The handshake signs a timestamp that the server
//! accepts only within its window, so the agent keeps an offset learned from
//! the server's `server_time` on top of an injectable source: tests drive a
//! skewed clock without touching the system one.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of Unix seconds.
pub trait TimeSource: Send + Sync {
    fn now_unix(&self) -> u64;
}

/// The host's clock.
pub struct HostTime;

impl TimeSource for HostTime {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A time source plus the offset that makes it agree with the server.
#[derive(Clone)]
pub struct Clock {
    source: Arc<dyn TimeSource>,
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn new(source: Arc<dyn TimeSource>) -> Self {
        Self {
            source,
            offset: Arc::new(AtomicI64::new(0)),
        }
    }

    pub fn system() -> Self {
        Self::new(Arc::new(HostTime))
    }

    /// The corrected time, for signing handshakes.
    pub fn now_unix(&self) -> u64 {
        let local = self.source.now_unix() as i64;
        local
            .saturating_add(self.offset.load(Ordering::Relaxed))
            .max(0) as u64
    }

    /// How far the server's idea of now is from the host's clock, in seconds.
    pub fn skew_to(&self, server_time: u64) -> i64 {
        (server_time as i64).saturating_sub(self.source.now_unix() as i64)
    }

    /// Adopts the server's idea of now; returns the new offset in seconds.
    pub fn correct_to(&self, server_time: u64) -> i64 {
        let offset = self.skew_to(server_time);
        self.offset.store(offset, Ordering::Relaxed);
        offset
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
pub mod fixed {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// A settable clock for tests.
    pub struct FixedTime(pub AtomicU64);

    impl TimeSource for FixedTime {
        fn now_unix(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn correction_follows_the_server_and_survives_local_ticks() {
        let source = Arc::new(FixedTime(AtomicU64::new(1_000)));
        let clock = Clock::new(source.clone());
        assert_eq!(clock.now_unix(), 1_000);
        assert_eq!(clock.correct_to(1_700_000_000), 1_699_999_000);
        source.0.store(1_030, Ordering::Relaxed);
        assert_eq!(clock.now_unix(), 1_700_000_030);
        assert_eq!(clock.correct_to(400), -630);
        assert_eq!(clock.now_unix(), 400);
    }
}
