//! Agent sessions (SPEC §3): the handshake token authenticates heartbeats and config
//! reads for its own agent only; deletion and secret rotation revoke it at once; it
//! renews in the last third of its life and stops at its expiry.

use serde_json::{json, Value};

use crate::common::fixtures::{heartbeat, signed};
use crate::common::{Agent, Backend, TestApp, ANON};

both_backends!(
    token_authenticates_its_own_agent_only,
    deleting_the_agent_revokes_its_tokens,
    rotating_the_secret_revokes_tokens_and_the_old_secret,
    rotation_racing_handshakes_leaves_no_live_token,
    token_renews_in_its_last_third,
    expired_token_is_refused,
);

fn hb(agent: &Agent) -> Value {
    heartbeat(&agent.id, "healthy", json!({"cpu_usage": 5}))
}

async fn token_authenticates_its_own_agent_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let other = app.agent(&owner, "b").await;
    let token = app.agent_token(&a).await;
    let r = app.heartbeat(&token, &hb(&a)).await.ok(200);
    assert_eq!(r.json["message"], "Heartbeat received");
    assert!(
        r.json.get("token").is_none(),
        "a fresh token is not renewed"
    );

    app.heartbeat(&token, &hb(&other))
        .await
        .err(401, "unauthorized");
    app.get(&format!("/api/agents/{}/config", other.id), &token)
        .await
        .err(401, "unauthorized");
    app.get(&format!("/api/agents/{}/config", a.id), &token)
        .await
        .ok(200);
    // The other agent's state is untouched by the refused heartbeat.
    assert_eq!(
        app.agent_detail(&owner, &other.id).await["status"],
        "pending"
    );
    // No token, a session token, a secret or garbage: 401.
    for bad in [
        ANON,
        owner.token.as_str(),
        a.secret.as_str(),
        "ocf_at_forged",
    ] {
        app.heartbeat(bad, &hb(&a)).await.err(401, "unauthorized");
    }
    // An agent token cannot act as an owner.
    app.get(&format!("/api/agents/{}", a.id), &token)
        .await
        .err(401, "unauthorized");
}

async fn deleting_the_agent_revokes_its_tokens(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let t1 = app.agent_token(&a).await;
    let t2 = app.agent_token(&a).await;
    app.heartbeat(&t1, &hb(&a)).await.ok(200);
    app.delete(&format!("/api/agents/{}", a.id), &owner.token)
        .await
        .ok(204);
    for t in [&t1, &t2] {
        app.heartbeat(t, &hb(&a)).await.err(401, "unauthorized");
        app.get(&format!("/api/agents/{}/config", a.id), t)
            .await
            .err(401, "unauthorized");
    }
}

async fn rotating_the_secret_revokes_tokens_and_the_old_secret(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let untouched = app.agent(&owner, "b").await;
    let token = app.agent_token(&a).await;
    let other_token = app.agent_token(&untouched).await;
    app.heartbeat(&token, &hb(&a)).await.ok(200);

    let new_secret = app.rotate_secret(&owner, &a).await;
    assert!(new_secret.starts_with("ocf_as_"));
    assert_ne!(new_secret, a.secret);
    app.heartbeat(&token, &hb(&a))
        .await
        .err(401, "unauthorized");
    // Other agents keep their sessions.
    app.heartbeat(&other_token, &hb(&untouched)).await.ok(200);

    app.clock.advance(1);
    app.handshake(&signed(&a.id, &a.secret, app.now()))
        .await
        .err(401, "unauthorized");
    let rotated = Agent {
        id: a.id.clone(),
        secret: new_secret,
    };
    let fresh = app.agent_token(&rotated).await;
    app.heartbeat(&fresh, &hb(&a)).await.ok(200);
    // The new secret is not shown again.
    let detail = app
        .get(&format!("/api/agents/{}", a.id), &owner.token)
        .await;
    assert!(!detail.text.contains(&rotated.secret["ocf_as_".len()..]));
}

async fn rotation_racing_handshakes_leaves_no_live_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let mut agent = app.agent(&owner, "a").await;
    let rotate = format!("/api/agents/{}/rotate-secret", agent.id);
    for round in 0..40u8 {
        // A refused handshake counts as a failure: let each round's lapse.
        app.clock.advance(61);
        let body = signed(&agent.id, &agent.secret, app.now());
        let client = app.client_from(200 + round % 50);
        let handshake = client.post(app.url("/api/agents/handshake")).json(&body);
        let no_body = json!({});
        let (hs, rotated) = tokio::join!(
            app.send(handshake),
            app.post(&rotate, &owner.token, &no_body),
        );
        let rotated = rotated.ok(200);
        if hs.status == 200 {
            // Issued under the old secret: the rotation must have revoked it.
            let token = hs.json["token"].as_str().unwrap();
            let r = app.heartbeat(token, &hb(&agent)).await;
            assert_eq!(r.status, 401, "round {round}: a token survived rotation");
        } else {
            hs.err(401, "unauthorized");
        }
        agent.secret = rotated.json["agent_secret"].as_str().unwrap().to_string();
    }
}

async fn token_renews_in_its_last_third(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let token = app.agent_token(&a).await;
    // Exactly a third left: not yet.
    app.clock.advance(2400);
    let r = app.heartbeat(&token, &hb(&a)).await.ok(200);
    assert!(r.json.get("token").is_none(), "{}", r.text);
    app.clock.advance(1);
    let r = app.heartbeat(&token, &hb(&a)).await.ok(200);
    let renewed = r.json["token"]
        .as_str()
        .expect("a renewed token")
        .to_string();
    assert!(renewed.starts_with("ocf_at_"));
    assert_ne!(renewed, token);
    assert_eq!(r.json["expires_in"], 3600);
    // The new token works after the old one has expired, for its full lifetime.
    app.clock.advance(1200);
    app.heartbeat(&token, &hb(&a))
        .await
        .err(401, "unauthorized");
    let r = app.heartbeat(&renewed, &hb(&a)).await.ok(200);
    assert!(r.json.get("token").is_none());
    app.clock.advance(3600 - 1200 - 1);
    app.heartbeat(&renewed, &hb(&a)).await.ok(200);
    app.clock.advance(1);
    app.heartbeat(&renewed, &hb(&a))
        .await
        .err(401, "unauthorized");
}

async fn expired_token_is_refused(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.agent_token_ttl_secs = 600).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let r = app
        .handshake(&signed(&a.id, &a.secret, app.now()))
        .await
        .ok(200);
    assert_eq!(r.json["expires_in"], 600);
    let token = r.json["token"].as_str().unwrap().to_string();
    app.clock.advance(599);
    app.get(&format!("/api/agents/{}/config", a.id), &token)
        .await
        .ok(200);
    app.clock.advance(1);
    app.heartbeat(&token, &hb(&a))
        .await
        .err(401, "unauthorized");
    app.get(&format!("/api/agents/{}/config", a.id), &token)
        .await
        .err(401, "unauthorized");
    // A new handshake gives a new session.
    let fresh = app.agent_token(&a).await;
    app.heartbeat(&fresh, &hb(&a)).await.ok(200);
}
