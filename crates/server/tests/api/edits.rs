//! Editing agents and fleets (`PATCH /api/agents/{id}`, `PATCH /api/fleets/{id}`): the
//! same rules as creation, `null` clears an optional field, owner scope (another
//! owner's agent, fleet, or a move into another owner's fleet is 404 and changes
//! nothing), live events, and the agent seeing its new policy and gateway URL.

use serde_json::{json, Value};

use crate::common::fixtures::heartbeat;
use crate::common::{Backend, Owner, TestApp};
use crate::events::Events;

both_backends!(
    agent_edits_apply_and_reach_the_agent,
    agent_edits_are_validated_like_creation,
    agent_edits_are_owner_scoped,
    fleet_rename_follows_the_creation_rules,
    edits_are_announced_live,
);

async fn fleet(app: &TestApp, owner: &Owner, name: &str) -> String {
    app.post("/api/fleets", &owner.token, &json!({ "name": name }))
        .await
        .ok(201)
        .json["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn path(id: &str) -> String {
    format!("/api/agents/{id}")
}

async fn agent_edits_apply_and_reach_the_agent(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let (f1, f2) = (fleet(&app, &o, "f1").await, fleet(&app, &o, "f2").await);
    let agent = app
        .create_agent(
            &o,
            json!({"name": "web-1", "fleet_id": f1, "policy_profile": "ops"}),
        )
        .await;
    let token = app.agent_token(&agent).await;

    let edited = app
        .patch(
            &path(&agent.id),
            &o.token,
            &json!({"name": "  web-one ", "fleet_id": f2, "policy_profile": "exec",
                    "gateway_url": "https://gw.example.com:18789"}),
        )
        .await
        .ok(200)
        .json;
    assert_eq!(edited["id"], agent.id.as_str());
    assert_eq!(edited["name"], "web-one");
    assert_eq!(edited["fleet_id"], f2.as_str());
    assert_eq!(edited["policy_profile"], "exec");
    assert_eq!(edited["heartbeat_interval"], 60);
    assert_eq!(edited["gateway_url"], "https://gw.example.com:18789");
    let detail = app.agent_detail(&o, &agent.id).await;
    assert_eq!(detail["name"], "web-one");
    let listed = app
        .get(&format!("/api/agents?fleet_id={f2}"), &o.token)
        .await
        .ok(200);
    assert_eq!(listed.json["total"], 1);

    // The running agent gets the new policy at its next heartbeat (its token lives on)...
    let hb = app
        .heartbeat(&token, &heartbeat(&agent.id, "healthy", json!({})))
        .await
        .ok(200);
    assert_eq!(hb.json["policy"]["name"], "exec");
    assert_eq!(hb.json["heartbeat_interval"], 60);
    // ...and the gateway URL at its next handshake.
    app.clock.advance(1);
    let hs = app.handshake_now(&agent).await.ok(200);
    assert_eq!(hs.json["gateway_url"], "https://gw.example.com:18789");

    // Only what is given changes; null clears the optional fields.
    let cleared = app
        .patch(
            &path(&agent.id),
            &o.token,
            &json!({"gateway_url": null, "fleet_id": null}),
        )
        .await
        .ok(200)
        .json;
    assert_eq!(cleared["gateway_url"], Value::Null);
    assert_eq!(cleared["fleet_id"], Value::Null);
    assert_eq!(cleared["name"], "web-one");
    assert_eq!(cleared["policy_profile"], "exec");
    app.clock.advance(1);
    let hs = app.handshake_now(&agent).await.ok(200);
    assert_eq!(hs.json["gateway_url"], Value::Null);
    let fleets = app.get("/api/fleets", &o.token).await.ok(200).json;
    let counts: Vec<i64> = fleets["fleets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["agent_count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [0, 0], "the agent left every fleet");
}

async fn agent_edits_are_validated_like_creation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let agent = app.agent(&o, "a").await;
    let before = app.agent_detail(&o, &agent.id).await;
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "tab\there"}),
        json!({"name": null}),
        json!({"name": 7}),
        json!({"policy_profile": "root"}),
        json!({"policy_profile": null}),
        json!({"gateway_url": "ftp://gw"}),
        json!({"gateway_url": "https://a b"}),
        json!({"gateway_url": format!("https://{}", "a".repeat(493))}),
        json!({"fleet_id": 5}),
        json!({"name": "ok", "unexpected": true}),
        // One bad field refuses the whole edit.
        json!({"name": "fine", "policy_profile": "root"}),
    ] {
        let r = app.patch(&path(&agent.id), &o.token, &body).await;
        r.err(400, "invalid_request");
        assert!(
            !r.text.contains("ftp://gw"),
            "the value is echoed: {}",
            r.text
        );
    }
    // What creation refuses, editing refuses with the same words.
    let created = app
        .post("/api/agents", &o.token, &json!({"name": "x".repeat(101)}))
        .await;
    let edited = app
        .patch(
            &path(&agent.id),
            &o.token,
            &json!({"name": "x".repeat(101)}),
        )
        .await;
    assert_eq!(created.json["message"], edited.json["message"]);
    assert_eq!(app.agent_detail(&o, &agent.id).await, before);
    // Not JSON: the usual answers.
    let r = app
        .send(
            app.build(reqwest::Method::PATCH, &path(&agent.id), &o.token)
                .body("{\"name\": \"x\"}"),
        )
        .await;
    r.err(415, "unsupported_media_type");
}

async fn agent_edits_are_owner_scoped(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.first_owner().await;
    let mallory = app.other_owner("mallory@example.com").await;
    let her_fleet = fleet(&app, &alice, "hers").await;
    let his_fleet = fleet(&app, &mallory, "his").await;
    let hers = app
        .create_agent(&alice, json!({"name": "a", "fleet_id": her_fleet}))
        .await;
    let his = app.agent(&mallory, "m").await;
    let her_before = app.agent_detail(&alice, &hers.id).await;
    let his_before = app.agent_detail(&mallory, &his.id).await;

    // Mallory cannot edit her agent, nor move his own into her fleet.
    let ghost = uuid::Uuid::new_v4().to_string();
    for (id, body) in [
        (&hers.id, json!({"name": "pwned"})),
        (&hers.id, json!({"fleet_id": his_fleet})),
        (&his.id, json!({"fleet_id": her_fleet})),
        (&his.id, json!({"fleet_id": ghost})),
        (&ghost, json!({"name": "x"})),
    ] {
        app.patch(&path(id), &mallory.token, &body)
            .await
            .err(404, "not_found");
    }
    // Alice cannot move hers into his fleet either.
    app.patch(
        &path(&hers.id),
        &alice.token,
        &json!({"fleet_id": his_fleet}),
    )
    .await
    .err(404, "not_found");
    app.patch(
        &format!("/api/fleets/{her_fleet}"),
        &mallory.token,
        &json!({"name": "pwned"}),
    )
    .await
    .err(404, "not_found");
    assert_eq!(app.agent_detail(&alice, &hers.id).await, her_before);
    assert_eq!(app.agent_detail(&mallory, &his.id).await, his_before);
    let fleet = app
        .get(&format!("/api/fleets/{her_fleet}"), &alice.token)
        .await
        .ok(200);
    assert_eq!(fleet.json["name"], "hers");
    assert_eq!(fleet.json["agent_count"], 1);
}

async fn fleet_rename_follows_the_creation_rules(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let prod = fleet(&app, &o, "prod").await;
    fleet(&app, &o, "staging").await;
    let url = format!("/api/fleets/{prod}");
    let renamed = app
        .patch(&url, &o.token, &json!({"name": "  production "}))
        .await
        .ok(200)
        .json;
    assert_eq!(renamed["name"], "production");
    assert_eq!(renamed["id"], prod.as_str());
    app.patch(&url, &o.token, &json!({"name": "staging"}))
        .await
        .err(409, "conflict");
    for body in [
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": null}),
        json!({}),
        json!({"name": "a", "extra": 1}),
    ] {
        app.patch(&url, &o.token, &body)
            .await
            .err(400, "invalid_request");
    }
    // Renaming to its own name is no conflict.
    app.patch(&url, &o.token, &json!({"name": "production"}))
        .await
        .ok(200);
    let got = app.get(&url, &o.token).await.ok(200);
    assert_eq!(got.json["name"], "production");
}

async fn edits_are_announced_live(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let other = app.other_owner("other@example.com").await;
    let agent = app.agent(&o, "before").await;
    let f = fleet(&app, &o, "f").await;
    let mut events = Events::open(&app, &o.token).await;
    let mut theirs = Events::open(&app, &other.token).await;
    app.patch(
        &path(&agent.id),
        &o.token,
        &json!({"name": "after", "fleet_id": f}),
    )
    .await
    .ok(200);
    let seen = events.until("\"name\":\"after\"").await.to_string();
    assert!(seen.contains("event: agent\n"), "{seen}");
    assert!(seen.contains(&format!("\"fleet_id\":\"{f}\"")), "{seen}");
    app.patch(
        &format!("/api/fleets/{f}"),
        &o.token,
        &json!({"name": "renamed"}),
    )
    .await
    .ok(200);
    let seen = events.until("\"name\":\"renamed\"").await.to_string();
    assert!(seen.contains("event: fleet\n"), "{seen}");
    // The other owner's stream carries none of it (their own change comes through).
    let own = app.agent(&other, "theirs").await;
    let seen = theirs.until(&own.id).await;
    assert!(
        !seen.contains(&agent.id) && !seen.contains("renamed"),
        "{seen}"
    );
}
