//! The operator CLI against the real server and the real agent: one test
//! binary, so the server library links once.

mod common;
mod dashboard;
mod fleet;
mod flow;
mod safety;
mod session;
