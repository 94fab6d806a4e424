//! Two owners, A and B, each with what an attacker would go after: a master key, a
//! fleet, an agent with a wrapped secret, a stored config, an agent token and a
//! heartbeat. Attacks run as B (or as a stranger) against A's real ids.

use openclaw_fleet::Settings;
use openclaw_fleet_protocol::EncryptionSecret;
use reqwest::Method;
use serde_json::{json, Value};

use super::openapi::{Auth, Ids, Operation};
use super::{send, Cred};
use crate::common::fixtures::{self, Wrap};
use crate::common::{Agent, Backend, Owner, TestApp};

pub struct Side {
    pub owner: Owner,
    pub fleet: String,
    pub agent: Agent,
    /// A live agent token of `agent`.
    pub token: String,
    pub es: EncryptionSecret,
    pub wrap: Wrap,
    /// The id of a second session of `owner`, one the suite may end.
    pub spare_session: String,
    /// An alert rule of `owner`.
    pub rule: String,
}

impl Side {
    pub fn ids(&self) -> Ids {
        Ids {
            fleet: self.fleet.clone(),
            agent: self.agent.id.clone(),
            // `equip` saves version 1.
            version: "1".into(),
            session: self.spare_session.clone(),
            rule: self.rule.clone(),
        }
    }

    /// The credential this side uses for `op`.
    pub fn cred(&self, op: &Operation) -> Cred {
        match op.auth {
            Auth::Public => Cred::None,
            Auth::Session => Cred::Bearer(self.owner.token.clone()),
            Auth::AgentToken => Cred::Bearer(self.token.clone()),
        }
    }
}

pub struct World {
    pub app: TestApp,
    pub a: Side,
    pub b: Side,
}

impl World {
    pub async fn new(backend: Backend) -> Self {
        Self::with(backend, |_| {}).await
    }

    pub async fn with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let app = TestApp::spawn_with(backend, adjust).await;
        let a = app.first_owner().await;
        let a = equip(&app, a, "a").await;
        let b = app.other_owner("b@example.com").await;
        let b = equip(&app, b, "b").await;
        Self { app, a, b }
    }
}

async fn equip(app: &TestApp, owner: Owner, tag: &str) -> Side {
    let wrap = Wrap::new();
    let t = &owner.token;
    app.put(
        "/api/me/master-key",
        t,
        &json!({ "kdf": fixtures::kdf(600_000), "key_check": wrap.key_check(&owner.id) }),
    )
    .await
    .ok(200);
    let fleet = app
        .post("/api/fleets", t, &json!({ "name": format!("fleet-{tag}") }))
        .await
        .ok(201)
        .json["id"]
        .as_str()
        .expect("fleet id")
        .to_string();
    let agent = app.agent(&owner, &format!("agent-{tag}")).await;
    let es = EncryptionSecret::generate();
    app.put(
        &format!("/api/agents/{}/wrapped-secret", agent.id),
        t,
        &json!({ "wrapped_secret": wrap.wrapped(&owner.id, &agent.id) }),
    )
    .await
    .ok(200);
    let doc = fixtures::config_document(&format!("secret-of-{tag}"));
    app.put(
        &format!("/api/agents/{}/config", agent.id),
        t,
        &json!({ "config": fixtures::envelope(&es, &agent.id, 1, &doc) }),
    )
    .await
    .ok(200);
    let token = app.agent_token(&agent).await;
    let hb = fixtures::heartbeat(&agent.id, "healthy", json!({ "cpu_usage": 5.0 }));
    app.heartbeat(&token, &hb).await.ok(200);
    app.login(&owner.email, crate::common::PASSWORD)
        .await
        .ok(200);
    let sessions = app.get("/api/me/sessions", t).await.ok(200).json;
    let spare_session = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("a second session")
        .to_string();
    let rule = app
        .post(
            "/api/alerts/rules",
            t,
            &json!({
                "name": format!("rule-{tag}"),
                "condition": "status_error",
                "webhook": { "kind": "generic", "url": format!("https://hooks.example.invalid/{tag}") },
            }),
        )
        .await
        .ok(201)
        .json["rule"]["id"]
        .as_str()
        .expect("rule id")
        .to_string();
    Side {
        rule,
        spare_session,
        owner,
        fleet,
        agent,
        token,
        es,
        wrap,
    }
}

/// What `side` can read through every GET operation of the document, by label: the
/// before/after picture of an attack.
pub async fn snapshot(app: &TestApp, side: &Side, ops: &[Operation]) -> Vec<(String, u16, Value)> {
    // The list's status counts are read from the stored status, which an acknowledged
    // heartbeat reaches at the next flush: write it now, so two snapshots with nothing
    // changed between them cannot differ by when that flush happened to run.
    app.state
        .flush_heartbeats()
        .await
        .expect("flush the acknowledged heartbeats");
    let ids = side.ids();
    let mut out = Vec::new();
    for op in ops.iter().filter(|o| o.method == Method::GET && !o.stream) {
        let path = ids.fill(&op.path);
        let r = send(app, Method::GET, &path, &side.cred(op), None).await;
        out.push((op.label(), r.status.as_u16(), r.json));
    }
    out
}
