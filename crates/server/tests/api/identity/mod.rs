//! Ed25519 agent identities (spec/SPEC-identity.md) over HTTP: enrollment and its
//! abuse, the Ed25519 handshake under every SPEC §2 rule, and the life of an Ed25519
//! agent (switch, heartbeat, config, re-issue, delete), on SQLite and PostgreSQL.

mod enroll;
mod handshake;
mod lifecycle;

use openclaw_fleet_protocol::{
    enroll_body, handshake_body_ed25519, AgentId, EnrollmentToken, IdentityKey,
};
use serde_json::{json, Value};

use crate::common::{Backend, Owner, TestApp};

/// An Ed25519 agent as created: its id and the enrollment token shown once.
pub struct EdAgent {
    pub id: String,
    pub token: String,
}

impl EdAgent {
    pub fn agent_id(&self) -> AgentId {
        AgentId::parse(&self.id).unwrap()
    }
}

pub async fn create_ed_agent(app: &TestApp, owner: &Owner, name: &str) -> EdAgent {
    let r = app
        .post(
            "/api/agents",
            &owner.token,
            &json!({"name": name, "identity": "ed25519"}),
        )
        .await
        .ok(201);
    assert!(r.json.get("agent_secret").is_none(), "{}", r.text);
    assert_eq!(r.json["agent"]["identity"], "ed25519");
    assert_eq!(r.json["agent"]["public_key"], Value::Null);
    EdAgent {
        id: r.json["agent"]["id"].as_str().unwrap().into(),
        token: r.json["enrollment_token"].as_str().unwrap().into(),
    }
}

/// The enroll body an honest agent sends at the clock's time.
pub fn enroll_now(app: &TestApp, agent: &EdAgent, key: &IdentityKey) -> Value {
    let token = EnrollmentToken::parse(&agent.token).unwrap();
    enroll_body(&agent.agent_id(), &token, key, app.now() as u64)
}

pub async fn enroll(app: &TestApp, body: &Value) -> crate::common::Resp {
    app.post("/api/agents/enroll", crate::common::ANON, body)
        .await
}

pub fn ed_handshake(app: &TestApp, id: &str, key: &IdentityKey) -> Value {
    handshake_body_ed25519(&AgentId::parse(id).unwrap(), app.now() as u64, key)
}

/// A setup: an owner with an enrolled Ed25519 agent and its key.
pub async fn enrolled(b: Backend) -> (TestApp, Owner, EdAgent, IdentityKey) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = create_ed_agent(&app, &owner, "ed-host").await;
    let key = IdentityKey::generate();
    enroll(&app, &enroll_now(&app, &agent, &key)).await.ok(200);
    (app, owner, agent, key)
}

/// A raw connection to the server's database (what a thief with a dump holds).
pub async fn raw_db(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = app.pg_url().unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            app.settings().data_dir.join("fleet.db").display()
        )
    });
    sqlx::AnyPool::connect(&url).await.expect("raw database")
}

/// The agent's sealed HMAC secret as the database holds it.
pub async fn stored_secret(app: &TestApp, id: &str) -> Option<String> {
    let db = raw_db(app).await;
    let v: Option<String> = sqlx::query_scalar("SELECT secret_sealed FROM agents WHERE id = $1")
        .bind(id)
        .fetch_one(&db)
        .await
        .expect("agent row");
    db.close().await;
    v
}
