//! The security suite: the real server, in process on `127.0.0.1:0` (and, for the
//! crash test, the real binary as a subprocess), attacked the way an intruder would.
//! The route lists come from the server's own `/api/openapi.json`, so a route added
//! later is attacked too, or the suite fails until it is covered. Every test runs on
//! SQLite and on PostgreSQL. The harness is the API suite's (`tests/api/common`).

/// Generates `mod sqlite` and `mod postgres` with one test per named function, as in
/// the API suite. PostgreSQL tests fail when the database is unreachable, unless
/// `OPENCLAW_FLEET_SKIP_POSTGRES=1` is set.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::common::skip_postgres() {
                        return;
                    }
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )+
        }
    };
}

#[allow(dead_code)]
#[path = "../api/common/mod.rs"]
mod common;

mod support;

mod brute_force;
mod csrf;
mod headers;
mod hostile_input;
mod idor;
mod resilience;
