//! Authentication building blocks: password hashing (off the async runtime), the failure
//! limits of logins, handshakes and account-password checks, and the CSRF origin rule.
//! The extractors that use them live in `crate::access`.

pub mod csrf;
pub mod limits;
pub mod password;
pub mod rate_limit;

pub use limits::Limits;

/// Name of the owner session cookie.
pub const SESSION_COOKIE: &str = "ocf_session";
