//! HTTP handlers, one file per resource. They parse input, call a scope of the access
//! layer and shape the answer; they never touch storage themselves.

pub mod account;
pub mod activity;
pub mod agent_api;
pub mod agents;
pub mod alerts;
pub mod auth;
pub mod events;
pub mod fleets;
pub mod health;
pub mod history;
pub mod master_key;
pub mod metrics;
pub mod schemas;

use serde::Serialize;
use utoipa::ToSchema;

/// The SPEC §0 error body, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
