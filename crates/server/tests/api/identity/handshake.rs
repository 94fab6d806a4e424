//! The Ed25519 handshake (`alg: "ed25519"`) under every rule of SPEC §2: the answer, the
//! window and its edges, single use (a malleated signature included), unknown agent =
//! wrong key = wrong `alg` = not enrolled, and the failure limits.

use openclaw_fleet_protocol::{b64u, handshake_message, IdentityKey};
use serde_json::{json, Value};

use super::*;
use crate::common::fixtures::signed;
use crate::common::{Backend, Resp, TestApp};

both_backends!(
    ed25519_handshake_answers_as_spec_2,
    window_edges_hold_for_ed25519,
    an_ed25519_signature_is_single_use_even_malleated,
    unknown_wrong_key_wrong_alg_and_unenrolled_answer_alike,
    failing_ed25519_handshakes_are_limited_and_never_block_the_agent,
);

/// The ed25519 body signed at `ts`.
fn at(id: &str, key: &IdentityKey, ts: i64) -> Value {
    let ts = ts.to_string();
    json!({"agent_id": id, "timestamp": ts, "alg": "ed25519",
           "signature": key.sign(&handshake_message(id, &ts))})
}

async fn ed25519_handshake_answers_as_spec_2(b: Backend) {
    let (app, owner, agent, key) = enrolled(b).await;
    let r = app
        .handshake(&ed_handshake(&app, &agent.id, &key))
        .await
        .ok(200);
    let token = r.json["token"].as_str().unwrap();
    assert!(token.starts_with("ocf_at_"));
    assert_eq!(r.json["expires_in"], 3600);
    assert_eq!(r.json["policy"]["name"], "dev");
    assert_eq!(r.json["config_version"], 0);
    assert_eq!(r.json["server_time"], app.now());
    let detail = app.agent_detail(&owner, &agent.id).await;
    assert_eq!(detail["secret_last_used_at"], app.now());
    // An integer timestamp signs the same canonical text.
    app.clock.advance(1);
    let mut body = ed_handshake(&app, &agent.id, &key);
    body["timestamp"] = json!(app.now());
    app.handshake(&body).await.ok(200);
}

async fn window_edges_hold_for_ed25519(b: Backend) {
    let (app, _, agent, key) = enrolled(b).await;
    let now = app.now();
    app.handshake(&at(&agent.id, &key, now - 60)).await.ok(200);
    app.handshake(&at(&agent.id, &key, now + 60)).await.ok(200);
    for ts in [now - 61, now + 61, 0] {
        let r = app.handshake(&at(&agent.id, &key, ts)).await;
        r.err(401, "timestamp_out_of_window");
        assert_eq!(r.json["server_time"], now);
    }
}

/// The S + L form of a used signature verifies under a lax verifier and would be a
/// "new" signature to the single-use record; strict verification refuses it.
async fn an_ed25519_signature_is_single_use_even_malleated(b: Backend) {
    let (app, _, agent, key) = enrolled(b).await;
    let body = ed_handshake(&app, &agent.id, &key);
    app.handshake(&body).await.ok(200);
    app.handshake(&body).await.err(401, "replayed");
    let mut sig = b64u::decode(body["signature"].as_str().unwrap()).unwrap();
    // S += L (the group order), little-endian, in the signature's last 32 bytes.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    let mut malleated = body.clone();
    malleated["signature"] = json!(b64u::encode(&sig));
    app.handshake(&malleated).await.err(401, "unauthorized");
    // Concurrent replays of a fresh signature: exactly one token.
    app.clock.advance(1);
    let fresh = ed_handshake(&app, &agent.id, &key);
    let answers = futures::future::join_all((0..6).map(|_| app.handshake(&fresh))).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
}

async fn unknown_wrong_key_wrong_alg_and_unenrolled_answer_alike(b: Backend) {
    let (app, owner, agent, key) = enrolled(b).await;
    let hmac = app.agent(&owner, "hmac-host").await;
    let pending = create_ed_agent(&app, &owner, "pending").await;
    let now = app.now();
    let wrong = IdentityKey::generate();
    let ghost = uuid::Uuid::new_v4().to_string();
    // An Ed25519 agent's id with an HMAC body signed by the secret it no longer has is
    // covered in `lifecycle`; here: an HMAC-shaped body for it.
    let mut hmac_shaped = signed(&agent.id, &hmac.secret, now);
    hmac_shaped["alg"] = json!("hmac");
    let cases = [
        ("unknown agent", at(&ghost, &key, now)),
        ("wrong key", at(&agent.id, &wrong, now)),
        ("ed25519 for an HMAC agent", at(&hmac.id, &key, now)),
        ("HMAC for an Ed25519 agent", hmac_shaped),
        (
            "HMAC without alg for an Ed25519 agent",
            signed(&agent.id, &hmac.secret, now),
        ),
        ("not yet enrolled", at(&pending.id, &key, now)),
    ];
    let mut answers = Vec::new();
    for (i, (why, body)) in cases.iter().enumerate() {
        let r = from(&app, &app.client_from(30 + i as u8), body).await;
        assert_eq!(r.status.as_u16(), 401, "{why}: {}", r.text);
        r.err(401, "unauthorized");
        answers.push(r.text);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // The agents themselves are unaffected.
    app.handshake(&at(&agent.id, &key, now)).await.ok(200);
    app.handshake_now(&hmac).await.ok(200);
}

async fn from(app: &TestApp, client: &reqwest::Client, body: &Value) -> Resp {
    app.send(client.post(app.url("/api/agents/handshake")).json(body))
        .await
}

/// The SPEC §2 limits hold for Ed25519: past ten failures per (agent, address) a
/// failing attempt is 429; the agent's own signature is accepted from that address and
/// from any other.
async fn failing_ed25519_handshakes_are_limited_and_never_block_the_agent(b: Backend) {
    let (app, _, agent, key) = enrolled(b).await;
    let attacker = app.client_from(80);
    let forged = |app: &TestApp| at(&agent.id, &IdentityKey::generate(), app.now());
    for _ in 0..10 {
        from(&app, &attacker, &forged(&app))
            .await
            .err(401, "unauthorized");
    }
    let r = from(&app, &attacker, &forged(&app)).await;
    r.err(429, "rate_limited");
    assert!(r.retry_after() <= 60);
    from(
        &app,
        &app.client_from(81),
        &ed_handshake(&app, &agent.id, &key),
    )
    .await
    .ok(200);
    app.clock.advance(1);
    let good = ed_handshake(&app, &agent.id, &key);
    from(&app, &attacker, &good).await.ok(200);
    // A replay is still told apart (it proves the key was used).
    from(&app, &attacker, &good).await.err(401, "replayed");
}
