//! Config envelopes (SPEC §4, §3): stored and returned unchanged, version = stored + 1,
//! anything that is not an envelope for this agent refused, size capped, and the
//! agent's long-poll woken by a save.

use std::time::{Duration, Instant};

use openclaw_fleet_protocol::{EncryptionSecret, Envelope};
use serde_json::{json, Value};

use crate::common::fixtures::{config_document, envelope, heartbeat};
use crate::common::{Agent, Backend, Owner, TestApp};

both_backends!(
    envelope_is_stored_and_returned_unchanged,
    version_must_be_stored_plus_one,
    concurrent_saves_of_one_version_store_one,
    non_envelopes_and_foreign_envelopes_are_422,
    oversized_config_is_413,
    long_poll_wakes_on_save,
    long_poll_times_out_with_current_state,
);

struct Ctx {
    app: TestApp,
    owner: Owner,
    agent: Agent,
    es: EncryptionSecret,
}

async fn setup(b: Backend) -> Ctx {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "a").await;
    Ctx {
        app,
        owner,
        agent,
        es: EncryptionSecret::generate(),
    }
}

impl Ctx {
    fn envelope(&self, version: u64) -> Value {
        envelope(&self.es, &self.agent.id, version, &config_document("k"))
    }

    async fn put(&self, config: &Value) -> crate::common::Resp {
        self.app
            .put(
                &format!("/api/agents/{}/config", self.agent.id),
                &self.owner.token,
                &json!({ "config": config }),
            )
            .await
    }

    fn config_path(&self) -> String {
        format!("/api/agents/{}/config", self.agent.id)
    }
}

async fn envelope_is_stored_and_returned_unchanged(b: Backend) {
    let c = setup(b).await;
    let env = c.envelope(1);
    let r = c.put(&env).await.ok(200);
    assert_eq!(r.json, json!({"config_version": 1}));

    let detail = c.app.agent_detail(&c.owner, &c.agent.id).await;
    assert_eq!(detail["config"], env);
    assert_eq!(detail["config_version"], 1);

    let token = c.app.agent_token(&c.agent).await;
    let got = c.app.get(&c.config_path(), &token).await.ok(200);
    assert_eq!(got.json, json!({"config": env, "config_version": 1}));
    // The agent can open what it got: the server changed nothing.
    let opened = Envelope::parse(&got.json["config"])
        .unwrap()
        .open(
            &c.es,
            &openclaw_fleet_protocol::AgentId::parse(&c.agent.id).unwrap(),
        )
        .unwrap();
    let doc: Value = serde_json::from_slice(&opened).unwrap();
    assert_eq!(doc, config_document("k"));

    c.app.clock.advance(1);
    let hs = c.app.handshake_now(&c.agent).await.ok(200);
    assert_eq!(hs.json["config"], env);
    assert_eq!(hs.json["config_version"], 1);
    let hb = c
        .app
        .heartbeat(&token, &heartbeat(&c.agent.id, "healthy", json!({})))
        .await
        .ok(200);
    assert_eq!(hb.json["config_version"], 1);
}

async fn version_must_be_stored_plus_one(b: Backend) {
    let c = setup(b).await;
    for v in [2, 5] {
        let r = c.put(&c.envelope(v)).await;
        r.err(409, "version_conflict");
        assert_eq!(r.json["stored_version"], 0);
    }
    c.put(&c.envelope(1)).await.ok(200);
    for v in [1, 3] {
        let r = c.put(&c.envelope(v)).await;
        r.err(409, "version_conflict");
        assert_eq!(r.json["stored_version"], 1);
    }
    let v2 = c.envelope(2);
    c.put(&v2).await.ok(200);
    let detail = c.app.agent_detail(&c.owner, &c.agent.id).await;
    assert_eq!(
        (detail["config_version"].clone(), detail["config"].clone()),
        (json!(2), v2)
    );
}

async fn concurrent_saves_of_one_version_store_one(b: Backend) {
    let c = setup(b).await;
    let candidates: Vec<Value> = (0..5).map(|_| c.envelope(1)).collect();
    let answers = futures::future::join_all(candidates.iter().map(|e| c.put(e))).await;
    let saved: Vec<&Value> = answers
        .iter()
        .zip(&candidates)
        .filter(|(r, _)| r.status == 200)
        .map(|(_, e)| e)
        .collect();
    assert_eq!(
        saved.len(),
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 200) {
        r.err(409, "version_conflict");
        assert_eq!(r.json["stored_version"], 1);
    }
    let detail = c.app.agent_detail(&c.owner, &c.agent.id).await;
    assert_eq!(&detail["config"], saved[0]);
}

async fn non_envelopes_and_foreign_envelopes_are_422(b: Backend) {
    let c = setup(b).await;
    let good = c.envelope(1);
    let edit = |key: &str, value: Value| {
        let mut e = good.clone();
        e[key] = value;
        e
    };
    let mut missing_ct = good.clone();
    missing_ct.as_object_mut().unwrap().remove("ct");
    let not_envelopes = [
        config_document("plaintext"),
        json!("a plain string"),
        json!(null),
        json!([good.clone()]),
        missing_ct,
        edit("extra", json!("smuggled")),
        edit("v", json!(2)),
        edit("alg", json!("none")),
        edit("version", json!(0)),
        edit("version", json!("1")),
        edit("iv", json!("short")),
        edit("ct", json!("bm90IGEgdGFn")),
        edit("ct", json!("has padding==")),
        edit("agent_id", json!("not-an-id")),
    ];
    for config in &not_envelopes {
        let r = c.put(config).await;
        assert_eq!(r.status.as_u16(), 422, "{config} → {}", r.text);
        r.err(422, "config_not_encrypted");
    }
    let other = c.app.agent(&c.owner, "other").await;
    let foreign = envelope(&c.es, &other.id, 1, &config_document("k"));
    c.put(&foreign).await.err(422, "agent_mismatch");
    // Nothing was stored by any of them.
    let detail = c.app.agent_detail(&c.owner, &c.agent.id).await;
    assert_eq!(
        (detail["config"].clone(), detail["config_version"].clone()),
        (Value::Null, json!(0))
    );
    c.put(&good).await.ok(200);
}

async fn oversized_config_is_413(b: Backend) {
    let c = setup(b).await;
    let big_doc = json!({"schema": 1, "env": {"BLOB": "x".repeat(70 * 1024)}});
    let big = envelope(&c.es, &c.agent.id, 1, &big_doc);
    c.put(&big).await.err(413, "payload_too_large");
    let fits = json!({"schema": 1, "env": {"BLOB": "x".repeat(40 * 1024)}});
    c.put(&envelope(&c.es, &c.agent.id, 1, &fits)).await.ok(200);
}

async fn long_poll_wakes_on_save(b: Backend) {
    let c = setup(b).await;
    c.put(&c.envelope(1)).await.ok(200);
    let token = c.app.agent_token(&c.agent).await;
    // A version already above `after_version` answers at once.
    let started = Instant::now();
    let r = c
        .app
        .get(
            &format!("{}?after_version=0&wait=30", c.config_path()),
            &token,
        )
        .await
        .ok(200);
    assert_eq!(r.json["config_version"], 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    let poll = c.app.build(
        reqwest::Method::GET,
        &format!("{}?after_version=1&wait=30", c.config_path()),
        &token,
    );
    let mut waiting = tokio::spawn(poll.send());
    // Still waiting after a while: nothing newer exists.
    assert!(
        tokio::time::timeout(Duration::from_millis(1200), &mut waiting)
            .await
            .is_err()
    );
    let v2 = c.envelope(2);
    c.put(&v2).await.ok(200);
    let saved = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the long-poll answers after a save")
        .unwrap()
        .unwrap();
    let delay = saved.elapsed();
    assert!(delay < Duration::from_millis(1100), "took {delay:?}");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"config": v2, "config_version": 2}));
}

async fn long_poll_times_out_with_current_state(b: Backend) {
    let c = setup(b).await;
    let env = c.envelope(1);
    c.put(&env).await.ok(200);
    let token = c.app.agent_token(&c.agent).await;
    let started = Instant::now();
    let r = c
        .app
        .get(
            &format!("{}?after_version=1&wait=1", c.config_path()),
            &token,
        )
        .await
        .ok(200);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(r.json, json!({"config": env, "config_version": 1}));
    // Without `after_version` there is no waiting.
    let started = Instant::now();
    c.app
        .get(&format!("{}?wait=30", c.config_path()), &token)
        .await
        .ok(200);
    assert!(started.elapsed() < Duration::from_secs(1));
    c.app
        .get(&format!("{}?after_version=x", c.config_path()), &token)
        .await
        .err(400, "invalid_request");
}
