//! Authentication building blocks: password hashing, login/handshake rate limits and the
//! CSRF origin rule. The extractors that use them live in `crate::access`.

pub mod csrf;
pub mod password;
pub mod rate_limit;

pub use rate_limit::RateLimiter;

/// Name of the owner session cookie.
pub const SESSION_COOKIE: &str = "ocf_session";
