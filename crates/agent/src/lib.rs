//! OpenClaw Fleet host agent. It proves its identity with a signed
//! handshake, reports the host's health, and applies configs that only it
//! can decrypt to the local OpenClaw state directory, refusing rollbacks,
//! envelopes for other agents and forgeries. The binary (`main.rs`) is a
//! thin shell around these modules.

pub mod apply;
pub mod backoff;
pub mod cli;
pub mod client;
pub mod clock;
pub mod daemon;
pub mod fsutil;
pub mod hooks;
pub mod identity;
pub mod metrics;
pub mod service;
pub mod settings;
pub mod state;
