//! A valid body for every operation that takes one, aimed at one side's objects: an
//! attack must be refused for who sends it, not for a malformed body. An operation
//! whose body the suite does not know fails the suite until one is added here.

use serde_json::{json, Value};

use super::openapi::Operation;
use super::world::Side;
use crate::common::fixtures::{self, Wrap};
use crate::common::{TestApp, PASSWORD};

/// A body that `target`'s owner could send to `op` with success.
pub async fn valid_body(app: &TestApp, target: &Side, op: &Operation) -> Option<Value> {
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    let body = match (op.method.as_str(), op.path.as_str()) {
        ("POST", "/api/auth/register") => {
            json!({ "email": format!("{fresh}@example.com"), "password": PASSWORD })
        }
        ("POST", "/api/auth/login") => json!({ "email": target.owner.email, "password": PASSWORD }),
        ("PUT", "/api/me/master-key") => {
            let wrap = Wrap::new();
            json!({
                "kdf": fixtures::kdf(600_000),
                "key_check": wrap.key_check(&target.owner.id),
                "wrapped_secrets": [{
                    "agent_id": target.agent.id,
                    "wrapped_secret": wrap.wrapped(&target.owner.id, &target.agent.id),
                }],
                "password": PASSWORD,
            })
        }
        ("POST", "/api/me/password") => json!({
            "current_password": PASSWORD,
            "new_password": PASSWORD,
        }),
        ("POST", "/api/fleets") => json!({ "name": format!("fleet-{fresh}") }),
        ("POST", "/api/agents") => json!({
            "name": format!("agent-{fresh}"),
            "policy_profile": "ops",
            "gateway_url": "http://127.0.0.1:18789",
        }),
        ("PATCH", "/api/fleets/{id}") => json!({ "name": format!("fleet-{fresh}") }),
        ("PATCH", "/api/agents/{id}") => json!({
            "name": format!("agent-{fresh}"),
            "fleet_id": target.fleet,
            "policy_profile": "exec",
            "gateway_url": "http://127.0.0.1:18790",
        }),
        ("PUT", "/api/agents/{id}/wrapped-secret") => json!({
            "wrapped_secret": target.wrap.wrapped(&target.owner.id, &target.agent.id),
            "password": PASSWORD,
        }),
        ("PUT", "/api/agents/{id}/config") => {
            let detail = app.agent_detail(&target.owner, &target.agent.id).await;
            let version = detail["config_version"].as_u64().expect("config_version") + 1;
            let doc = fixtures::config_document(&fresh);
            json!({ "config": fixtures::envelope(&target.es, &target.agent.id, version, &doc) })
        }
        ("POST", "/api/alerts/rules") => json!({
            "name": format!("rule-{fresh}"),
            "condition": "cpu_above",
            "threshold": 90,
            "minutes": 5,
            "fleet_id": target.fleet,
            "webhook": { "kind": "slack", "url": "https://hooks.example.invalid/x" },
        }),
        ("PATCH", "/api/alerts/rules/{id}") => json!({
            "name": format!("rule-{fresh}"),
            "cooldown_minutes": 5,
            "fleet_id": target.fleet,
            "webhook": { "kind": "discord", "url": "https://hooks.example.invalid/y" },
        }),
        ("POST", "/api/agents/handshake") => {
            app.clock.advance(1);
            fixtures::signed(&target.agent.id, &target.agent.secret, app.now())
        }
        ("POST", "/api/agents/enroll") => {
            // A fresh Ed25519 agent of the target's owner, and the key it enrolls.
            let r = app
                .post(
                    "/api/agents",
                    &target.owner.token,
                    &json!({ "name": format!("ed-{fresh}"), "identity": "ed25519" }),
                )
                .await
                .ok(201);
            let id = r.json["agent"]["id"].as_str().expect("agent id");
            let token = r.json["enrollment_token"]
                .as_str()
                .expect("enrollment token");
            openclaw_fleet_protocol::enroll_body(
                &openclaw_fleet_protocol::AgentId::parse(id).expect("agent id"),
                &openclaw_fleet_protocol::EnrollmentToken::parse(token).expect("token"),
                &openclaw_fleet_protocol::IdentityKey::generate(),
                app.now() as u64,
            )
        }
        ("POST", "/api/heartbeat") => fixtures::heartbeat(
            &target.agent.id,
            "idle",
            json!({ "cpu_usage": 50.0, "memory_usage": 10.0, "custom_metric": 3 }),
        ),
        _ => return None,
    };
    Some(body)
}

/// `valid_body`, required for an operation that documents a request body.
#[track_caller]
pub fn require(op: &Operation, body: Option<Value>) -> Option<Value> {
    assert!(
        op.body.is_none() || body.is_some(),
        "{}: takes a body the security suite does not know; add a valid one to \
         tests/security/support/bodies.rs",
        op.label()
    );
    body
}
