//! Retry pacing while the server is unreachable: exponential growth from one
//! second to a 60-second cap, with jitter so that a fleet of agents cut off
//! together does not reconnect in lockstep when the server comes back.

use std::time::Duration;

use rand::Rng;

pub const BASE: Duration = Duration::from_secs(1);
pub const CAP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(BASE, CAP)
    }
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            attempt: 0,
            base,
            cap,
        }
    }

    /// The upper bound of the next delay: `min(cap, base · 2^attempt)`.
    pub fn ceiling(&self) -> Duration {
        self.base
            .checked_mul(1u32 << self.attempt.min(20))
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The next delay, drawn from `[ceiling/2, ceiling]` ("equal jitter"):
    /// never shorter than half the ceiling, so retries still slow down.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + rng.gen_range(Duration::ZERO..=ceiling - half)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn delays_grow_stay_within_bounds_and_reach_the_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::default();
        let mut last_ceiling = Duration::ZERO;
        for _ in 0..200 {
            let ceiling = b.ceiling();
            assert!(ceiling >= last_ceiling);
            let d = b.next_delay(&mut rng);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d:?} outside {ceiling:?}"
            );
            assert!(d <= CAP);
            last_ceiling = ceiling;
        }
        assert_eq!(b.ceiling(), CAP);
        let first = Backoff::default().next_delay(&mut rng);
        assert!(first >= BASE / 2 && first <= BASE);
    }

    #[test]
    fn jitter_spreads_agents_and_reset_starts_over() {
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<Duration> = (0..50)
            .map(|_| {
                let mut b = Backoff::default();
                (0..10).for_each(|_| {
                    b.next_delay(&mut rng);
                });
                b.next_delay(&mut rng)
            })
            .collect();
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40, "jitter too weak: {distinct:?}");
        let mut b = Backoff::default();
        (0..10).for_each(|_| {
            b.next_delay(&mut rng);
        });
        b.reset();
        assert_eq!(b.ceiling(), BASE);
        assert_eq!(b.attempts(), 0);
    }
}
