//! The server's API suite: the real server, in process on `127.0.0.1:0` with its own
//! temporary database, driven over HTTP. Every test is written once as
//! `async fn name(b: Backend)` and run on SQLite and on PostgreSQL by [`both_backends!`].
//! One binary holds every module, so the server is linked once.

include!("common/both_backends.rs");

mod common;

mod accounts;
mod activity;
mod agent_list;
mod alerts;
mod auth;
mod auth_guards;
mod client_addr;
mod config;
mod counts;
mod durability;
mod edits;
mod errors;
mod events;
mod events_flood;
mod events_watch;
mod first_start;
mod fleets_agents;
mod handshake;
mod handshake_abuse;
mod handshake_batch;
mod handshake_restart;
mod handshake_timing;
mod heartbeat;
mod history;
mod identity;
mod lock_order;
mod master_key;
mod operations;
mod ownership;
mod password_guard;
mod renewal;
mod replicas;
mod rollups;
mod secrets_at_rest;
mod seen_key;
mod sessions;
mod shutdown;
mod telemetry;
