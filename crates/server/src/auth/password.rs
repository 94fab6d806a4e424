//! Account passwords: Argon2id (the `argon2` crate's defaults, OWASP-level parameters).
//! Verification runs the same work for an unknown account, so a login cannot tell
//! "no such email" from "wrong password" by timing.
//!
//! Argon2 is tens of milliseconds of CPU and memory by design, so it never runs on the
//! async workers (it would stall every heartbeat on those threads): each hash or check
//! runs on the blocking pool, at most one per CPU core at a time; the rest wait their
//! turn without holding a thread.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// Hashes a new password.
pub async fn hash(password: &str) -> ApiResult<String> {
    let password = Zeroizing::new(password.to_string());
    off_runtime(move || hash_now(&password)).await?
}

/// Verifies `password` against `stored`, or against a dummy hash when there is none.
pub async fn verify(password: &str, stored: Option<&str>) -> ApiResult<bool> {
    let password = Zeroizing::new(password.to_string());
    let stored = stored.map(str::to_string);
    off_runtime(move || verify_now(&password, stored.as_deref())).await
}

/// Runs `work` on the blocking pool once one of the slots is free: one per core but one,
/// at least one, so a storm of password checks never takes every core from heartbeats
/// and handshakes. The slot is held by the work itself, so a cancelled request does not
/// free it early.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Semaphore::new(cores.saturating_sub(1).max(1)))
    });
    let permit = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(ApiError::internal)
}

fn hash_now(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("password hashing failed: {e}")))
}

fn verify_now(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_now("dummy password for timing").unwrap_or_default());
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
    #[tokio::test]
    async fn hash_verifies_and_rejects() {
        let h = super::hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", Some(&h))
            .await
            .unwrap());
        assert!(!super::verify("wrong horse battery!", Some(&h))
            .await
            .unwrap());
        assert!(!super::verify("dummy password for timing", None)
            .await
            .unwrap());
    }

    /// Checks run on the blocking pool: a current-thread runtime keeps serving other
    /// tasks while one runs.
    #[tokio::test(flavor = "current_thread")]
    async fn checks_do_not_block_the_runtime() {
        let h = super::hash("correct horse battery").await.unwrap();
        let check = tokio::spawn(async move { super::verify("wrong", Some(&h)).await });
        let mut ticks = 0;
        while !check.is_finished() {
            tokio::task::yield_now().await;
            ticks += 1;
        }
        assert!(ticks > 1, "the runtime was blocked while the hash ran");
        assert!(!check.await.unwrap().unwrap());
    }
}
