//! Operating the server: the real binary's operator commands and the figures it
//! exports, as an operator meets them.

mod backup;
mod fleet;
mod log_writer;
mod metrics;
mod proc;
mod rotation;
mod tls;
mod users;
