//! OpenClaw Fleet server: the HTTP API, storage and the embedded dashboard.
//!
//! Layers, outside in: [`router`] lists the routes; [`handlers`] parse and answer;
//! [`access`] is the only layer that reaches [`store`], through scopes that enforce
//! ownership; [`crypto`] seals what the server must keep (SPEC §6) and never holds a key
//! that opens the browser's layer.

pub mod access;
pub mod admin;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod client_addr;
pub mod clock;
pub mod crypto;
pub mod downloads;
pub mod error;
pub mod handlers;
pub mod json;
pub mod key_rotation;
pub mod router;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod web;

pub use settings::Settings;
pub use startup::Server;
