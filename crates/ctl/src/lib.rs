//! `openclaw-fleet-ctl`, the operator CLI: scripted fleet work under the same
//! zero-knowledge rules as the dashboard. Config documents are decrypted and
//! sealed on this machine with the protocol crate's crypto; the server sees
//! envelopes and wrapped secrets only. The binary (`main.rs`) parses the
//! command line and maps [`CtlError`] to exit codes.

pub mod api;
pub mod cli;
pub mod commands;
pub mod configs;
pub mod dashboard;
pub mod edit_input;
pub mod envfile;
pub mod error;
pub mod input;
pub mod local;
pub mod output;
pub mod server_url;
pub mod unlock;

pub use error::{exit, CtlError};
