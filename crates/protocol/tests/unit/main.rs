//! Unit tests of the public API, one module per source module. Kept in one
//! test binary so the crate links once.

mod b64u;
mod document;
mod edit;
mod envelope;
mod fields;
mod handshake;
mod identity;
mod ids;
mod master_key;
mod no_leaks;
mod secrets;
mod wire;
