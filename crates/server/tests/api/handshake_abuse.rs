//! Handshakes that must fail (SPEC §2): bodies carrying a plaintext secret (refused and
//! reported to the owner), malformed bodies, and the failure limits per client address
//! and per (agent, address), which slow the attacker and never the agent.

use openclaw_fleet_protocol::{sign, AgentSecret};
use serde_json::{json, Value};

use crate::common::fixtures::signed;
use crate::common::{Backend, Resp, TestApp, ANON, PASSWORD};
use crate::handshake::setup;

both_backends!(
    plaintext_secret_is_refused_and_reported,
    malformed_bodies_are_400,
    attackers_junk_never_blocks_the_agent_or_its_owner,
    failing_handshakes_past_the_limit_answer_429,
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
    // Each from its own address: more than thirty failures from one would be limited.
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

/// A handshake from `client` with `body`.
async fn from(app: &TestApp, client: &reqwest::Client, body: &Value) -> Resp {
    app.send(client.post(app.url("/api/agents/handshake")).json(body))
        .await
}

fn forged(app: &TestApp, agent_id: &str) -> Value {
    let ts = app.now().to_string();
    json!({"agent_id": agent_id, "timestamp": ts,
           "signature": sign(agent_id, &ts, &AgentSecret::generate())})
}

#[track_caller]
fn limited(r: &Resp) {
    r.err(429, "rate_limited");
    assert!(r.retry_after() <= 60, "Retry-After {}", r.retry_after());
}

/// From one address an attacker sends everything it can naming the real agent —
/// malformed bodies, forged signatures, stale timestamps — and wrong passwords for its
/// owner, until it is refused with 429. The agent's correct handshake is still accepted,
/// from another address and from the attacker's own; the owner logs in from elsewhere.
async fn attackers_junk_never_blocks_the_agent_or_its_owner(b: Backend) {
    let (app, owner, agent) = setup(b).await;
    let attacker = app.client_from(66);
    let wrong = AgentSecret::generate();
    let junk = [
        json!({"agent_id": agent.id, "timestamp": "x", "signature": "00"}),
        json!({"agent_id": agent.id}),
        signed(&agent.id, wrong.expose_secret(), app.now()),
        signed(&agent.id, &agent.secret, app.now() - 3600),
    ];
    let mut refused = 0;
    for round in 0..15 {
        for body in &junk {
            let r = from(&app, &attacker, body).await;
            if r.status == 429 {
                limited(&r);
                refused += 1;
            } else {
                assert!(
                    [400, 401].contains(&r.status.as_u16()),
                    "round {round}: {}",
                    r.text
                );
            }
        }
        let r = app
            .send(
                attacker.post(app.url("/api/auth/login")).json(
                    &json!({"email": owner.email, "password": format!("wrong guess {round}!")}),
                ),
            )
            .await;
        assert!([401, 429].contains(&r.status.as_u16()), "{}", r.text);
    }
    assert!(refused > 0, "the attacker was never slowed down");
    // The attacker is limited, the agent is not: from elsewhere and from the same address.
    let good = signed(&agent.id, &agent.secret, app.now());
    from(&app, &app.client_from(67), &good).await.ok(200);
    app.clock.advance(1);
    let good = signed(&agent.id, &agent.secret, app.now());
    from(&app, &attacker, &good).await.ok(200);
    limited(&from(&app, &attacker, &junk[0]).await);
    app.send(
        app.client_from(67)
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": owner.email, "password": PASSWORD})),
    )
    .await
    .ok(200);
}

/// Past its limit a failing attempt answers 429: per (agent, address) after ten, per
/// address after thirty whatever the agents; each ends with its window. A replayed
/// signature, which proves the secret was used, still answers `replayed`.
async fn failing_handshakes_past_the_limit_answer_429(b: Backend) {
    let (app, owner, agent) = setup(b).await;
    let other = app.agent(&owner, "other").await;
    let a = app.client_from(70);
    for _ in 0..10 {
        from(&app, &a, &forged(&app, &agent.id))
            .await
            .err(401, "unauthorized");
    }
    limited(&from(&app, &a, &forged(&app, &agent.id)).await);
    // Another agent from the same address, and the agent from another, are apart.
    from(&app, &a, &forged(&app, &other.id))
        .await
        .err(401, "unauthorized");
    from(&app, &app.client_from(71), &forged(&app, &agent.id))
        .await
        .err(401, "unauthorized");

    let c = app.client_from(72);
    for _ in 0..30 {
        let ghost = uuid::Uuid::new_v4().to_string();
        from(&app, &c, &forged(&app, &ghost))
            .await
            .err(401, "unauthorized");
    }
    limited(&from(&app, &c, &forged(&app, &other.id)).await);
    limited(&from(&app, &c, &json!({})).await);
    let good = signed(&other.id, &other.secret, app.now());
    from(&app, &c, &good).await.ok(200);
    from(&app, &c, &good).await.err(401, "replayed");

    app.clock.advance(60);
    from(&app, &a, &forged(&app, &agent.id))
        .await
        .err(401, "unauthorized");
    from(&app, &c, &json!({})).await.err(400, "invalid_request");
}
