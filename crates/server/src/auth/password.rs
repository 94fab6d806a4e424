//! Account passwords: Argon2id (the `argon2` crate's defaults, OWASP-level parameters).
//! Verification runs the same work for an unknown account, so a login cannot tell
//! "no such email" from "wrong password" by timing.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Verifies `password` against `stored`, or against a dummy hash when there is none.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("dummy password for timing").unwrap_or_default());
    let target = stored.unwrap_or(dummy);
    let ok = PasswordHash::new(target)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    ok && stored.is_some()
}

/// A password policy error, or `None` when acceptable.
pub fn check_policy(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        Some(format!("password must be at least {MIN_LEN} characters"))
    } else if password.len() > MAX_LEN {
        Some(format!("password must be at most {MAX_LEN} bytes"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_verifies_and_rejects() {
        let h = super::hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", Some(&h)));
        assert!(!super::verify("wrong horse battery!", Some(&h)));
        assert!(!super::verify("dummy password for timing", None));
    }
}
