//! `POST /api/agents/enroll`: success once, with only the public key stored; every
//! failure the same 401 that spends nothing; failures limited per source address
//! without ever locking out the agent that holds the right token.

use openclaw_fleet_protocol::{enroll_message, EnrollmentToken, IdentityKey, PublicKey};
use serde_json::{json, Value};

use super::*;
use crate::common::{Backend, Resp, TestApp};

both_backends!(
    enrollment_stores_the_public_key_once,
    every_enroll_failure_is_the_same_401_and_spends_nothing,
    an_expired_token_enrolls_nothing,
    enroll_failures_are_limited_per_source_and_never_lock_out_the_agent,
    malformed_and_secret_carrying_enroll_bodies_are_400,
);

async fn enrollment_stores_the_public_key_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = create_ed_agent(&app, &owner, "fresh").await;
    let token = EnrollmentToken::parse(&agent.token).expect("an ocf_et_ token");
    // The database holds the token's SHA-256 only.
    let db = raw_db(&app).await;
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM enrollment_tokens WHERE agent_id = $1")
            .bind(&agent.id)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(stored, vec![token.hash()]);
    assert_eq!(stored_secret(&app, &agent.id).await, None);

    let key = IdentityKey::generate();
    let body = enroll_now(&app, &agent, &key);
    let r = enroll(&app, &body).await.ok(200);
    let pk = key.public_key().to_encoded();
    assert_eq!(r.json["public_key"], pk);
    assert_eq!(r.json["agent_id"], agent.id);
    let detail = app.agent_detail(&owner, &agent.id).await;
    assert_eq!(detail["identity"], "ed25519");
    assert_eq!(detail["public_key"], pk);
    assert_eq!(detail["enrolled_at"], app.now());
    // Spent: the same body (a replay) and the same token with another key are refused.
    enroll(&app, &body).await.err(401, "unauthorized");
    let other = IdentityKey::generate();
    enroll(&app, &enroll_now(&app, &agent, &other))
        .await
        .err(401, "unauthorized");
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["public_key"],
        pk,
        "a spent token replaced the key"
    );
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM enrollment_tokens WHERE agent_id = $1")
            .bind(&agent.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(left, 0);
    db.close().await;
    // The log says what happened, never a value.
    let log = app
        .get("/api/activity?limit=50", &owner.token)
        .await
        .ok(200);
    let actions: Vec<&str> = log.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"agent_enrolled"), "{actions:?}");
    assert!(!log.text.contains(&agent.token[7..]));
    // The key now handshakes.
    app.handshake(&ed_handshake(&app, &agent.id, &key))
        .await
        .ok(200);
}

/// Each of these from its own address, so no limit is in play; each answers exactly the
/// same 401, and afterwards the honest body still enrolls.
async fn every_enroll_failure_is_the_same_401_and_spends_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = create_ed_agent(&app, &owner, "target").await;
    let neighbour = create_ed_agent(&app, &owner, "neighbour").await;
    let hmac = app.agent(&owner, "hmac").await;
    let key = IdentityKey::generate();
    let good = enroll_now(&app, &agent, &key);
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let wrong_token = EnrollmentToken::generate();
    // A proof by another key than the one enrolled.
    let thief = IdentityKey::generate();
    let mut stolen_proof = good.clone();
    stolen_proof["public_key"] = json!(thief.public_key().to_encoded());
    // A proof over the right fields but signed by someone else.
    let forged_sig = {
        let pk = key.public_key();
        thief.sign(&enroll_message(&agent.id, &pk, &app.now().to_string()))
    };
    let ghost = uuid::Uuid::new_v4().to_string();
    let cases = [
        (
            "wrong token",
            with("enrollment_token", json!(wrong_token.expose_secret())),
        ),
        (
            "another agent's token",
            with("enrollment_token", json!(neighbour.token)),
        ),
        ("proof for another key", stolen_proof),
        ("proof by another key", with("signature", json!(forged_sig))),
        (
            "proof over another timestamp",
            with("timestamp", json!((app.now() - 1).to_string())),
        ),
        // With a valid proof for the id they name: only the token is wrong for it.
        (
            "unknown agent",
            proven_for(&app, &ghost, &agent.token, &key),
        ),
        (
            "an HMAC agent",
            proven_for(&app, &hmac.id, &agent.token, &key),
        ),
    ];
    let mut answers = Vec::new();
    for (i, (why, body)) in cases.iter().enumerate() {
        let client = app.client_from(120 + i as u8);
        let r = app
            .send(client.post(app.url("/api/agents/enroll")).json(body))
            .await;
        assert_eq!(r.status.as_u16(), 401, "{why}: {}", r.text);
        r.err(401, "unauthorized");
        answers.push(r.text);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // Nothing was spent: the neighbour's token and this agent's still enroll.
    enroll(&app, &good).await.ok(200);
    let nkey = IdentityKey::generate();
    enroll(&app, &enroll_now(&app, &neighbour, &nkey))
        .await
        .ok(200);
    // Out of the window it says so (and gives the server's time), like a handshake.
    let late = enroll_now(&app, &create_ed_agent(&app, &owner, "late").await, &key);
    app.clock.advance(61);
    let r = enroll(&app, &late).await;
    r.err(401, "timestamp_out_of_window");
    assert_eq!(r.json["server_time"], app.now());
}

/// An enroll body for `id` with `token`, its proof made by `key`.
fn proven_for(app: &TestApp, id: &str, token: &str, key: &IdentityKey) -> Value {
    let agent = EdAgent {
        id: id.into(),
        token: token.into(),
    };
    enroll_now(app, &agent, key)
}

async fn an_expired_token_enrolls_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = create_ed_agent(&app, &owner, "slow").await;
    app.clock.advance(24 * 3600 + 1);
    // The owner's session is long gone too: sign in again.
    let r = app
        .login(&owner.email, crate::common::PASSWORD)
        .await
        .ok(200);
    let owner = crate::common::Owner {
        token: r.json["token"].as_str().unwrap().into(),
        ..owner
    };
    let key = IdentityKey::generate();
    enroll(&app, &enroll_now(&app, &agent, &key))
        .await
        .err(401, "unauthorized");
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["public_key"],
        Value::Null
    );
    // A new token (the old one is replaced) enrolls.
    let r = app
        .post(
            &format!("/api/agents/{}/enrollment-token", agent.id),
            &owner.token,
            &json!({}),
        )
        .await
        .ok(200);
    assert_eq!(r.json["expires_at"], app.now() + 24 * 3600);
    let renewed = EdAgent {
        id: agent.id.clone(),
        token: r.json["enrollment_token"].as_str().unwrap().into(),
    };
    enroll(&app, &enroll_now(&app, &agent, &key))
        .await
        .err(401, "unauthorized");
    enroll(&app, &enroll_now(&app, &renewed, &key))
        .await
        .ok(200);
}

async fn from(app: &TestApp, client: &reqwest::Client, body: &Value) -> Resp {
    app.send(client.post(app.url("/api/agents/enroll")).json(body))
        .await
}

/// An attacker floods enrollment with wrong tokens from one address until it is
/// answered 429. The agent holding the right token still enrolls — from another address,
/// and from the attacker's own (a right proof is never refused by the counter).
async fn enroll_failures_are_limited_per_source_and_never_lock_out_the_agent(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = create_ed_agent(&app, &owner, "victim").await;
    let second = create_ed_agent(&app, &owner, "second").await;
    let attacker = app.client_from(90);
    let key = IdentityKey::generate();
    let guess = |app: &TestApp| {
        let mut body = enroll_now(app, &agent, &key);
        body["enrollment_token"] = json!(EnrollmentToken::generate().expose_secret());
        body
    };
    for _ in 0..10 {
        from(&app, &attacker, &guess(&app))
            .await
            .err(401, "unauthorized");
    }
    let r = from(&app, &attacker, &guess(&app)).await;
    r.err(429, "rate_limited");
    assert!(r.retry_after() <= 15 * 60);
    // Malformed junk counts too, and is refused the same way once limited.
    from(&app, &attacker, &json!({}))
        .await
        .err(429, "rate_limited");
    // The rightful agent, from elsewhere: enrolled.
    from(&app, &app.client_from(91), &enroll_now(&app, &agent, &key))
        .await
        .ok(200);
    // Another rightful agent from the attacker's own address: enrolled too.
    let key2 = IdentityKey::generate();
    from(&app, &attacker, &enroll_now(&app, &second, &key2))
        .await
        .ok(200);
    // The window ends.
    app.clock.advance(15 * 60);
    from(&app, &attacker, &guess(&app))
        .await
        .err(401, "unauthorized");
    assert!(PublicKey::parse(&key2.public_key().to_encoded()).is_ok());
}

async fn malformed_and_secret_carrying_enroll_bodies_are_400(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = create_ed_agent(&app, &owner, "strict").await;
    let key = IdentityKey::generate();
    let good = enroll_now(&app, &agent, &key);
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let sig = good["signature"].as_str().unwrap().to_owned();
    let cases = [
        json!([]),
        json!({}),
        with("agent_id", json!(agent.id.to_uppercase())),
        with(
            "public_key",
            json!(key.public_key().to_encoded().replace("ocf_pk_", "")),
        ),
        with("public_key", json!(format!("ocf_pk_{}", "A".repeat(43)))),
        with("enrollment_token", json!("ocf_et_short")),
        with("timestamp", json!("-1")),
        with("signature", json!(format!("{sig}=="))),
        with("signature", json!(hex::encode([7u8; 64]))),
        with("signature", json!(&sig[..85])),
    ];
    for (i, body) in cases.iter().enumerate() {
        let r = from(&app, &app.client_from(140 + i as u8), body).await;
        assert_eq!(r.status.as_u16(), 400, "{body} → {}", r.text);
        r.err(400, "invalid_request");
    }
    // The identity key itself, sent by mistake, is refused as a plaintext secret.
    let leaky = with("identity_key", json!(key.to_encoded_secret().as_str()));
    let r = from(&app, &app.client_from(160), &leaky).await;
    r.err(400, "plaintext_secret_rejected");
    assert!(!r.text.contains(key.to_encoded_secret().as_str()));
    // None of it spent the token.
    enroll(&app, &good).await.ok(200);
}
