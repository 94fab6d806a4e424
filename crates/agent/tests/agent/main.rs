//! Integration tests of the agent binary: its command line, the real fleet
//! server (in-process, on 127.0.0.1:0 with a temporary data dir), and a
//! hostile server that serves envelopes the agent must refuse.

mod cli;
mod common;
mod enrollment;
mod hostile_server;
mod identity;
mod monitor_switch;
mod real_server;
mod tls;
