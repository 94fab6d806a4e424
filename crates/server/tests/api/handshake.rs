//! The signed handshake (SPEC §2), rule by rule: signature over the canonical
//! timestamp, the window and its edges, unknown agent and wrong secret alike, single
//! use (also under concurrency and after pruning).

use openclaw_fleet_protocol::{sign, AgentSecret};
use serde_json::{json, Value};

use crate::common::fixtures::{secret, signed};
use crate::common::{Agent, Backend, Owner, TestApp};

both_backends!(
    valid_handshake_answers_token_policy_and_config,
    timestamp_as_string_integer_and_with_leading_zeros,
    window_edges_are_inclusive,
    window_is_configurable,
    unknown_agent_and_wrong_secret_answer_alike,
    a_signature_is_single_use,
    concurrent_replays_get_one_token,
    pruned_signatures_stay_unusable,
);

pub(crate) async fn setup(b: Backend) -> (TestApp, Owner, Agent) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app
        .create_agent(
            &owner,
            json!({"name": "host", "gateway_url": "https://gw.example.com"}),
        )
        .await;
    (app, owner, agent)
}

async fn valid_handshake_answers_token_policy_and_config(b: Backend) {
    let (app, owner, agent) = setup(b).await;
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        Value::Null
    );
    // Exactly what a one-line monitor does: the protocol crate's own body builder.
    let id = openclaw_fleet_protocol::AgentId::parse(&agent.id).unwrap();
    let body =
        openclaw_fleet_protocol::handshake_body(&id, app.now() as u64, &secret(&agent.secret));
    let r = app.handshake(&body).await.ok(200);
    let token = r.json["token"].as_str().unwrap();
    assert!(token.starts_with("ocf_at_") && token.len() > 40);
    assert_eq!(r.json["expires_in"], 3600);
    assert_eq!(r.json["heartbeat_interval"], 30);
    assert_eq!(r.json["policy"]["name"], "dev");
    assert_eq!(r.json["gateway_url"], "https://gw.example.com");
    assert_eq!(r.json["config"], Value::Null);
    assert_eq!(r.json["config_version"], 0);
    assert_eq!(r.json["server_time"], app.now());
    // The token is an agent credential, not an owner one.
    app.get("/api/me", token).await.err(401, "unauthorized");
    let hb = crate::common::fixtures::heartbeat(&agent.id, "healthy", json!({}));
    app.heartbeat(token, &hb).await.ok(200);
    let detail = app.agent_detail(&owner, &agent.id).await;
    assert_eq!(detail["secret_last_used_at"], app.now());
}

async fn timestamp_as_string_integer_and_with_leading_zeros(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let key = secret(&agent.secret);
    let now = app.now();
    let sig = sign(&agent.id, &now.to_string(), &key);
    let as_int = json!({"agent_id": agent.id, "timestamp": now, "signature": sig});
    app.handshake(&as_int).await.ok(200);

    app.clock.advance(1);
    let now = app.now();
    let canonical_sig = sign(&agent.id, &now.to_string(), &key);
    let padded = format!("000{now}");
    let body = json!({"agent_id": agent.id, "timestamp": padded, "signature": canonical_sig});
    app.handshake(&body).await.ok(200);
    // A signature over the padded text is not a signature over the canonical one.
    app.clock.advance(1);
    let now = app.now();
    let padded = format!("0{now}");
    let wrong_sig = sign(&agent.id, &padded, &key);
    app.handshake(&json!({"agent_id": agent.id, "timestamp": padded, "signature": wrong_sig}))
        .await
        .err(401, "unauthorized");
}

async fn window_edges_are_inclusive(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let now = app.now();
    for ts in [now - 60, now + 60] {
        app.handshake(&signed(&agent.id, &agent.secret, ts))
            .await
            .ok(200);
    }
    for ts in [now - 61, now + 61, 0] {
        let r = app.handshake(&signed(&agent.id, &agent.secret, ts)).await;
        r.err(401, "timestamp_out_of_window");
        assert_eq!(r.json["server_time"], now);
    }
    // An agent corrects its clock from server_time and gets in.
    let skewed = app
        .handshake(&signed(&agent.id, &agent.secret, now - 500))
        .await;
    let server_time = skewed.json["server_time"].as_i64().unwrap();
    app.handshake(&signed(&agent.id, &agent.secret, server_time + 1))
        .await
        .ok(200);
}

async fn window_is_configurable(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.handshake_window_secs = 300).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "host").await;
    let now = app.now();
    app.handshake(&signed(&agent.id, &agent.secret, now - 300))
        .await
        .ok(200);
    app.handshake(&signed(&agent.id, &agent.secret, now + 300))
        .await
        .ok(200);
    app.handshake(&signed(&agent.id, &agent.secret, now - 301))
        .await
        .err(401, "timestamp_out_of_window");
}

async fn unknown_agent_and_wrong_secret_answer_alike(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let now = app.now();
    let stranger = AgentSecret::generate();
    let wrong_secret = json!({
        "agent_id": agent.id, "timestamp": now.to_string(),
        "signature": sign(&agent.id, &now.to_string(), &stranger),
    });
    let unknown_id = uuid::Uuid::new_v4().to_string();
    let unknown = json!({
        "agent_id": unknown_id, "timestamp": now.to_string(),
        "signature": sign(&unknown_id, &now.to_string(), &stranger),
    });
    let r1 = app.handshake(&wrong_secret).await;
    let r2 = app.handshake(&unknown).await;
    r1.err(401, "unauthorized");
    r2.err(401, "unauthorized");
    assert_eq!(r1.text, r2.text);
    // Signing another agent's id with this agent's secret does not work either.
    let other = app
        .handshake(&signed(&unknown_id, &agent.secret, now))
        .await;
    assert_eq!(other.text, r1.text);
    // Failures did not burn the real signature.
    app.handshake(&signed(&agent.id, &agent.secret, now))
        .await
        .ok(200);
}

async fn a_signature_is_single_use(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let body = signed(&agent.id, &agent.secret, app.now());
    app.handshake(&body).await.ok(200);
    app.handshake(&body).await.err(401, "replayed");
    app.clock.advance(30);
    app.handshake(&body).await.err(401, "replayed");
    // The same timestamp as an integer is the same signature, and still a replay.
    let mut as_int = body.clone();
    as_int["timestamp"] = json!(body["timestamp"].as_str().unwrap().parse::<i64>().unwrap());
    app.handshake(&as_int).await.err(401, "replayed");
    // A new timestamp is a new signature.
    app.handshake(&signed(&agent.id, &agent.secret, app.now()))
        .await
        .ok(200);
}

async fn concurrent_replays_get_one_token(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let body = signed(&agent.id, &agent.secret, app.now());
    let attempts = (0..6).map(|i| {
        let client = app.client_from(80 + i);
        let (app, body) = (&app, &body);
        async move {
            app.send(client.post(app.url("/api/agents/handshake")).json(body))
                .await
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let accepted = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        accepted,
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 200) {
        r.err(401, "replayed");
    }
}

async fn pruned_signatures_stay_unusable(b: Backend) {
    let (app, _, agent) = setup(b).await;
    // Signed at the far edge of the window, so it stays usable longest.
    let start = app.now();
    let body = signed(&agent.id, &agent.secret, start + 60);
    app.handshake(&body).await.ok(200);
    // Housekeeping may forget used signatures older than twice the window...
    app.clock.advance(120);
    app.state.maintain().await.expect("housekeeping");
    app.handshake(&body).await.err(401, "replayed");
    app.clock.advance(1);
    app.state.maintain().await.expect("housekeeping");
    // ...because by then the timestamp itself is refused.
    app.handshake(&body)
        .await
        .err(401, "timestamp_out_of_window");
}
