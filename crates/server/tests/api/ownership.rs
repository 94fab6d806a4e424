//! Ownership (SPEC §7): another owner's fleet and agent ids answer 404 on every route,
//! exactly like ids that do not exist, and the objects stay unchanged.

use serde_json::{json, Value};

use crate::common::fixtures::{self, Wrap};
use crate::common::{Backend, TestApp};

both_backends!(other_owners_get_404_and_change_nothing,);

async fn other_owners_get_404_and_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.first_owner().await;
    let mallory = app.other_owner("mallory@example.com").await;
    let fleet = app
        .post("/api/fleets", &alice.token, &json!({"name": "alice-fleet"}))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let agent = app
        .create_agent(&alice, json!({"name": "alice-agent", "fleet_id": fleet}))
        .await;
    let wrap = Wrap::new();
    let setup = json!({"kdf": fixtures::kdf(600_000), "key_check": wrap.key_check(&alice.id)});
    app.put("/api/me/master-key", &alice.token, &setup)
        .await
        .ok(200);
    app.put(
        &format!("/api/agents/{}/wrapped-secret", agent.id),
        &alice.token,
        &json!({"wrapped_secret": wrap.wrapped(&alice.id, &agent.id)}),
    )
    .await
    .ok(200);
    let es = openclaw_fleet_protocol::EncryptionSecret::generate();
    let doc = fixtures::config_document("alice");
    app.put(
        &format!("/api/agents/{}/config", agent.id),
        &alice.token,
        &json!({"config": fixtures::envelope(&es, &agent.id, 1, &doc)}),
    )
    .await
    .ok(200);
    let before = app.agent_detail(&alice, &agent.id).await;
    let fleet_before = app
        .get(&format!("/api/fleets/{fleet}"), &alice.token)
        .await
        .json;

    // Mallory has her own master key, so her requests get past every other check.
    let mwrap = Wrap::new();
    let msetup = json!({"kdf": fixtures::kdf(600_000), "key_check": mwrap.key_check(&mallory.id)});
    app.put("/api/me/master-key", &mallory.token, &msetup)
        .await
        .ok(200);

    let missing = uuid::Uuid::new_v4().to_string();
    let attempts = |a: &str, f: &str| {
        let envelope = fixtures::envelope(&es, a, 2, &doc);
        vec![
            ("GET", format!("/api/fleets/{f}"), Value::Null),
            ("DELETE", format!("/api/fleets/{f}"), Value::Null),
            ("GET", format!("/api/agents/{a}"), Value::Null),
            ("DELETE", format!("/api/agents/{a}"), Value::Null),
            ("GET", format!("/api/agents/{a}/metrics"), Value::Null),
            ("POST", format!("/api/agents/{a}/rotate-secret"), json!({})),
            (
                "PUT",
                format!("/api/agents/{a}/config"),
                json!({"config": envelope}),
            ),
            (
                "PUT",
                format!("/api/agents/{a}/wrapped-secret"),
                json!({"wrapped_secret": mwrap.wrapped(&mallory.id, a), "password": crate::common::PASSWORD}),
            ),
        ]
    };
    let foreign = attempts(&agent.id, &fleet);
    let absent = attempts(&missing, &missing);
    for ((method, path, body), (_, absent_path, absent_body)) in foreign.iter().zip(&absent) {
        let method: reqwest::Method = method.parse().unwrap();
        let mut rb = app.build(method.clone(), path, &mallory.token);
        let mut rb_absent = app.build(method, absent_path, &mallory.token);
        if !body.is_null() {
            rb = rb.json(body);
            rb_absent = rb_absent.json(absent_body);
        }
        let r = app.send(rb).await;
        r.err(404, "not_found");
        assert_eq!(r.json, app.send(rb_absent).await.json, "{path}");
    }
    // Filters and references by a foreign fleet see nothing, as for a missing one.
    let list = app
        .get(&format!("/api/agents?fleet_id={fleet}"), &mallory.token)
        .await
        .ok(200);
    assert_eq!(
        (list.json["total"].clone(), list.json["agents"].clone()),
        (json!(0), json!([]))
    );
    let r = app
        .post(
            "/api/agents",
            &mallory.token,
            &json!({"name": "x", "fleet_id": fleet}),
        )
        .await;
    r.err(400, "invalid_request");
    let r_absent = app
        .post(
            "/api/agents",
            &mallory.token,
            &json!({"name": "x", "fleet_id": missing}),
        )
        .await;
    assert_eq!(r.json, r_absent.json);
    // A master-key change cannot name her victim's agent either.
    let change = json!({
        "kdf": fixtures::kdf(600_000), "key_check": mwrap.key_check(&mallory.id),
        "password": crate::common::PASSWORD,
        "wrapped_secrets": [{"agent_id": agent.id, "wrapped_secret": mwrap.wrapped(&mallory.id, &agent.id)}],
    });
    app.put("/api/me/master-key", &mallory.token, &change)
        .await
        .err(409, "conflict");
    // Mallory's own views do not show Alice's objects.
    let mine = app.get("/api/agents", &mallory.token).await.ok(200);
    assert_eq!(mine.json["total"], 0);
    let fleets = app.get("/api/fleets", &mallory.token).await.ok(200);
    assert_eq!(fleets.json["fleets"], json!([]));

    // Nothing changed for Alice, and her agent's secret still works.
    assert_eq!(app.agent_detail(&alice, &agent.id).await, before);
    assert_eq!(
        app.get(&format!("/api/fleets/{fleet}"), &alice.token)
            .await
            .json,
        fleet_before
    );
    app.handshake_now(&agent).await.ok(200);
}
