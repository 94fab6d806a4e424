//! Who may fail how often: the login, handshake and account-password limits, keyed so
//! that an attacker's failures slow only the attacker.
//!
//! - Logins count per client source and per (account, source). Both are counted *before*
//!   the password is checked (a burst cannot outrun the count); a right password gives
//!   its attempt back. A wrong-password spray at one account from elsewhere never refuses
//!   the owner's login from an address that did not fail.
//! - Handshakes are verified first; only an attempt that failed is counted, per source
//!   and per (agent, source), and only a failing attempt is answered 429. A correct
//!   signature is never refused by a counter.
//! - Enrollments (SPEC-identity) likewise: checked first, only a failure is counted (per
//!   source) and only a failing attempt is answered 429, so a flood from elsewhere never
//!   refuses the agent holding the right token.
//! - The account password asked for sensitive changes counts per account, so a stolen
//!   session cannot guess it.
//!
//! A source is an IPv4 address or an IPv6 /64 (what one subscriber usually holds).

use std::net::{IpAddr, Ipv6Addr};

use super::rate_limit::FailureLimiter;
use crate::clock::SharedClock;

/// Keys each limiter remembers at most (LRU beyond).
const CAPACITY: usize = 65_536;

pub const LOGIN_WINDOW_SECS: i64 = 15 * 60;
/// Wrong passwords per (account, source) per window.
pub const LOGIN_FAILURES_PER_ACCOUNT: u32 = 5;
/// Failed logins per source per window, whatever the accounts.
pub const LOGIN_FAILURES_PER_SOURCE: u32 = 20;
pub const HANDSHAKE_WINDOW_SECS: i64 = 60;
/// Failed handshakes per (agent, source) per window.
pub const HANDSHAKE_FAILURES_PER_AGENT: u32 = 10;
/// Failed handshakes per source per window, whatever the agents.
pub const HANDSHAKE_FAILURES_PER_SOURCE: u32 = 30;
pub const ENROLL_WINDOW_SECS: i64 = 15 * 60;
/// Failed enrollments per source per window.
pub const ENROLL_FAILURES_PER_SOURCE: u32 = 10;
pub const PASSWORD_WINDOW_SECS: i64 = 15 * 60;
/// Wrong account passwords per account per window for sensitive changes.
pub const PASSWORD_FAILURES_PER_ACCOUNT: u32 = 5;

/// The part of a client address a limit counts.
#[derive(Clone, Copy, Hash, PartialEq, Eq, Debug)]
pub struct Source(IpAddr);

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Source(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & (u128::MAX << 64);
                    Source(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

/// A counted login attempt: hand it back with [`Limits::login_succeeded`] when the
/// password was right. Dropped otherwise, it stays counted as a failure.
pub struct LoginAttempt {
    source: Source,
    account: String,
}

pub struct Limits {
    login_source: FailureLimiter,
    login_account: FailureLimiter,
    handshake_source: FailureLimiter,
    handshake_agent: FailureLimiter,
    enroll_source: FailureLimiter,
    password: FailureLimiter,
}

impl Limits {
    pub fn new(clock: SharedClock) -> Self {
        let limiter =
            |name, max, window| FailureLimiter::new(name, max, window, CAPACITY, clock.clone());
        Self {
            login_source: limiter("login_source", LOGIN_FAILURES_PER_SOURCE, LOGIN_WINDOW_SECS),
            login_account: limiter(
                "login_account_source",
                LOGIN_FAILURES_PER_ACCOUNT,
                LOGIN_WINDOW_SECS,
            ),
            handshake_source: limiter(
                "handshake_source",
                HANDSHAKE_FAILURES_PER_SOURCE,
                HANDSHAKE_WINDOW_SECS,
            ),
            handshake_agent: limiter(
                "handshake_agent_source",
                HANDSHAKE_FAILURES_PER_AGENT,
                HANDSHAKE_WINDOW_SECS,
            ),
            enroll_source: limiter(
                "enroll_source",
                ENROLL_FAILURES_PER_SOURCE,
                ENROLL_WINDOW_SECS,
            ),
            password: limiter(
                "account_password",
                PASSWORD_FAILURES_PER_ACCOUNT,
                PASSWORD_WINDOW_SECS,
            ),
        }
    }

    /// Counts a login attempt for `account` (normalized email) from `ip` before its
    /// password is checked; `Err(retry_after)` when the source or the pair is at its limit.
    pub fn begin_login(&self, account: &str, ip: IpAddr) -> Result<LoginAttempt, u64> {
        let source = Source::from(ip);
        self.login_source.hit(&source)?;
        if let Err(retry_after) = self.login_account.hit(&(account, source)) {
            self.login_source.refund(&source);
            return Err(retry_after);
        }
        Ok(LoginAttempt {
            source,
            account: account.to_string(),
        })
    }

    /// The password was right: the attempt was no failure.
    pub fn login_succeeded(&self, attempt: LoginAttempt) {
        self.login_source.refund(&attempt.source);
        self.login_account
            .clear(&(attempt.account.as_str(), attempt.source));
    }

    /// Counts a failed handshake from `ip` (naming `agent`, when the body named a valid
    /// id); `Err(retry_after)` when the source or the pair was already at its limit.
    pub fn handshake_failed(&self, agent: Option<&str>, ip: IpAddr) -> Result<(), u64> {
        let source = Source::from(ip);
        let by_source = self.handshake_source.hit(&source);
        let by_agent = match agent {
            Some(agent) => self.handshake_agent.hit(&(agent, source)),
            None => Ok(()),
        };
        match (by_source, by_agent) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(a), _) | (_, Err(a)) => Err(a),
        }
    }

    /// A correct handshake: the agent's own earlier failures from this source are forgiven.
    pub fn handshake_succeeded(&self, agent: &str, ip: IpAddr) {
        self.handshake_agent.clear(&(agent, Source::from(ip)));
    }

    /// Counts a failed enrollment from `ip`; `Err(retry_after)` when the source was
    /// already at its limit.
    pub fn enroll_failed(&self, ip: IpAddr) -> Result<(), u64> {
        self.enroll_source.hit(&Source::from(ip))
    }

    /// Counts a check of `user_id`'s account password before it runs.
    pub fn begin_password_check(&self, user_id: &str) -> Result<(), u64> {
        self.password.hit(&user_id)
    }

    pub fn password_check_succeeded(&self, user_id: &str) {
        self.password.clear(&user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            Source::from(ip("2001:db8:1:2:aaaa::1")),
            Source::from(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            Source::from(ip("2001:db8:1:2::1")),
            Source::from(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Source::from(ip("::ffff:192.0.2.7")),
            Source::from(ip("192.0.2.7"))
        );
    }

    #[test]
    fn a_right_password_gives_its_attempt_back() {
        let limits = Limits::new(Arc::new(ManualClock::new(0)));
        let from = ip("192.0.2.1");
        for _ in 0..LOGIN_FAILURES_PER_SOURCE * 2 {
            let attempt = limits.begin_login("me@example.com", from).unwrap();
            limits.login_succeeded(attempt);
        }
        for _ in 0..LOGIN_FAILURES_PER_ACCOUNT {
            limits.begin_login("victim@example.com", from).unwrap();
        }
        assert!(limits.begin_login("victim@example.com", from).is_err());
        // The refused pair took nothing more from the source: exactly the rest is left.
        for i in 0..LOGIN_FAILURES_PER_SOURCE - LOGIN_FAILURES_PER_ACCOUNT {
            limits
                .begin_login(&format!("u{i}@example.com"), from)
                .unwrap();
        }
        assert!(limits.begin_login("last@example.com", from).is_err());
        assert!(limits
            .begin_login("me@example.com", ip("192.0.2.2"))
            .is_ok());
    }
}
