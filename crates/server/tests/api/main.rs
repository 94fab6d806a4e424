//! The server's API suite: the real server, in process on `127.0.0.1:0` with its own
//! temporary database, driven over HTTP. Every test is written once as
//! `async fn name(b: Backend)` and run on SQLite and on PostgreSQL by [`both_backends!`].
//! One binary holds every module, so the server is linked once.

/// Generates `mod sqlite` and `mod postgres` with one `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per named test.
/// PostgreSQL tests fail when the database is unreachable, unless
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

mod common;

mod auth;
mod auth_guards;
mod config;
mod errors;
mod events;
mod fleets_agents;
mod handshake;
mod handshake_abuse;
mod heartbeat;
mod master_key;
mod ownership;
mod replicas;
mod secrets_at_rest;
mod sessions;
