//! Handshakes that must fail (SPEC §2): bodies carrying a plaintext secret (refused and
//! reported to the owner), malformed bodies, and the rate limits per agent and per
//! client address.

use openclaw_fleet_protocol::{sign, AgentSecret};
use serde_json::{json, Value};

use crate::common::fixtures::signed;
use crate::common::{Backend, TestApp, ANON};
use crate::handshake::setup;

both_backends!(
    plaintext_secret_is_refused_and_reported,
    malformed_bodies_are_400,
    rate_limited_per_agent,
    rate_limited_per_address,
);

async fn plaintext_secret_is_refused_and_reported(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "leaky").await;
    let bystander = app.agent(&owner, "careful").await;

    // A fake secret is refused but does not flag the agent.
    let mut body = signed(&bystander.id, &bystander.secret, app.now());
    body["agent_secret"] = json!(AgentSecret::generate().expose_secret());
    app.handshake(&body)
        .await
        .err(400, "plaintext_secret_rejected");
    let detail = app.agent_detail(&owner, &bystander.id).await;
    assert_eq!(detail["plaintext_secret_seen_at"], Value::Null);

    // The real secret, even with a valid signature: refused, and the owner is told.
    app.clock.advance(5);
    let mut body = signed(&agent.id, &agent.secret, app.now());
    body["agent_secret"] = json!(agent.secret);
    let r = app.handshake(&body).await;
    r.err(400, "plaintext_secret_rejected");
    assert!(r.json.get("token").is_none());
    assert!(!r.text.contains(&agent.secret));
    let detail = app.agent_detail(&owner, &agent.id).await;
    assert_eq!(detail["plaintext_secret_seen_at"], app.now());
    // Only the secret alone, with nothing else, is refused the same way.
    app.handshake(&json!({"agent_id": agent.id, "agent_secret": agent.secret}))
        .await
        .err(400, "plaintext_secret_rejected");
    // Anywhere in the body: nested in an object or an array, it is just as exposed.
    for (i, wrap) in [
        json!({"credentials": {"agent_secret": "SECRET"}}),
        json!({"extra": ["SECRET"]}),
    ]
    .into_iter()
    .enumerate()
    {
        let nested = app.agent(&owner, &format!("nested-{i}")).await;
        let mut body = signed(&nested.id, &nested.secret, app.now());
        let text = wrap.to_string().replace("SECRET", &nested.secret);
        for (k, v) in serde_json::from_str::<serde_json::Map<String, Value>>(&text).unwrap() {
            body[k] = v;
        }
        app.handshake(&body)
            .await
            .err(400, "plaintext_secret_rejected");
        let detail = app.agent_detail(&owner, &nested.id).await;
        assert_eq!(detail["plaintext_secret_seen_at"], app.now(), "{wrap}");
    }
    // Rotating the secret clears the warning.
    app.post(
        &format!("/api/agents/{}/rotate-secret", agent.id),
        &owner.token,
        &json!({}),
    )
    .await
    .ok(200);
    let detail = app.agent_detail(&owner, &agent.id).await;
    assert_eq!(detail["plaintext_secret_seen_at"], Value::Null);
}

async fn malformed_bodies_are_400(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let now = app.now();
    let good = signed(&agent.id, &agent.secret, now);
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases = [
        json!([]),
        json!("handshake"),
        json!(null),
        without("agent_id"),
        without("timestamp"),
        without("signature"),
        with("agent_id", json!(agent.id.to_uppercase())),
        with("agent_id", json!("not-a-uuid")),
        with("agent_id", json!(42)),
        with("timestamp", json!("")),
        with("timestamp", json!("12ab")),
        with("timestamp", json!(-5)),
        with("timestamp", json!(format!("-{now}"))),
        with("timestamp", json!(format!("+{now}"))),
        with("timestamp", json!(now as f64 + 0.5)),
        with("timestamp", json!("1".repeat(20))),
        with("timestamp", json!(null)),
        with(
            "signature",
            json!(good["signature"].as_str().unwrap().to_uppercase()),
        ),
        with(
            "signature",
            json!(&good["signature"].as_str().unwrap()[..63]),
        ),
        with(
            "signature",
            json!(format!("{}0", good["signature"].as_str().unwrap())),
        ),
        with("signature", json!(7)),
    ];
    // Each from its own address: more than ten failures from one would be rate limited.
    for (i, body) in cases.iter().enumerate() {
        let client = app.client_from(100 + i as u8);
        let r = app
            .send(client.post(app.url("/api/agents/handshake")).json(body))
            .await;
        assert_eq!(r.status.as_u16(), 400, "{body} → {}", r.text);
        r.err(400, "invalid_request");
    }
    let raw = app
        .send(
            app.build(reqwest::Method::POST, "/api/agents/handshake", ANON)
                .header("content-type", "application/json")
                .body("{\"agent_id\": "),
        )
        .await;
    raw.err(400, "invalid_request");
    // None of that used up the good signature.
    app.handshake(&good).await.ok(200);
}

async fn rate_limited_per_agent(b: Backend) {
    let (app, owner, agent) = setup(b).await;
    let bad = AgentSecret::generate();
    for i in 0..10u8 {
        let body = json!({
            "agent_id": agent.id, "timestamp": app.now().to_string(),
            "signature": sign(&agent.id, &app.now().to_string(), &bad),
        });
        let r = app
            .send(
                app.client_from(40 + i)
                    .post(app.url("/api/agents/handshake"))
                    .json(&body),
            )
            .await;
        r.err(401, "unauthorized");
    }
    // The right signature from a fresh address is refused while the agent is locked.
    let good = signed(&agent.id, &agent.secret, app.now());
    let r = app
        .send(
            app.client_from(60)
                .post(app.url("/api/agents/handshake"))
                .json(&good),
        )
        .await;
    r.err(429, "rate_limited");
    assert!(r.retry_after() <= 60);
    // Another agent is not affected.
    let other = app.agent(&owner, "other").await;
    app.handshake_now(&other).await.ok(200);
    // After the window the agent gets in (and the signature was not used up).
    app.clock.advance(60);
    app.handshake(&signed(&agent.id, &agent.secret, app.now()))
        .await
        .ok(200);
}

async fn rate_limited_per_address(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let from = app.client_from(70);
    let stranger = AgentSecret::generate();
    for _ in 0..10 {
        let id = uuid::Uuid::new_v4().to_string();
        let ts = app.now().to_string();
        let body = json!({"agent_id": id, "timestamp": ts, "signature": sign(&id, &ts, &stranger)});
        app.send(from.post(app.url("/api/agents/handshake")).json(&body))
            .await
            .err(401, "unauthorized");
    }
    let good = signed(&agent.id, &agent.secret, app.now());
    let r = app
        .send(from.post(app.url("/api/agents/handshake")).json(&good))
        .await;
    r.err(429, "rate_limited");
    r.retry_after();
    // Malformed bodies from a locked address are refused before parsing, too.
    app.send(from.post(app.url("/api/agents/handshake")).json(&json!({})))
        .await
        .err(429, "rate_limited");
    // The agent itself is not locked: from another address it connects.
    app.send(
        app.client_from(71)
            .post(app.url("/api/agents/handshake"))
            .json(&good),
    )
    .await
    .ok(200);
}
