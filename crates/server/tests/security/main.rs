//! The security suite: the real server, in process on `127.0.0.1:0` (and, for the
//! crash test, the real binary as a subprocess), attacked the way an intruder would.
//! The route lists come from the server's own `/api/openapi.json`, so a route added
//! later is attacked too, or the suite fails until it is covered. Every test runs on
//! SQLite and on PostgreSQL. The harness is the API suite's (`tests/api/common`).

include!("../api/common/both_backends.rs");

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
