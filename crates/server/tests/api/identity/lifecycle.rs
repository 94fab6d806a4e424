//! The life of an Ed25519 agent, exactly like an HMAC agent's: handshake, heartbeat,
//! config, re-issue (the old key is cut off at once), delete. Switching an HMAC agent
//! deletes its secret and revokes its tokens, so a database dump plus the internal key
//! no longer signs as it; `audit` checks it; only the owner may switch.

use openclaw_fleet_protocol::{EncryptionSecret, IdentityKey};
use serde_json::{json, Value};

use super::*;
use crate::common::fixtures::{config_document, envelope, heartbeat, signed};
use crate::common::{Backend, Owner, TestApp};

both_backends!(
    an_ed25519_agent_runs_like_an_hmac_agent,
    switching_deletes_the_secret_so_a_dump_cannot_sign,
    only_the_owner_may_issue_an_enrollment_token,
);

async fn issue(app: &TestApp, owner: &Owner, id: &str) -> crate::common::Resp {
    app.post(
        &format!("/api/agents/{id}/enrollment-token"),
        &owner.token,
        &json!({}),
    )
    .await
}

async fn token_of(app: &TestApp, id: &str, key: &IdentityKey) -> String {
    app.clock.advance(1);
    let r = app.handshake(&ed_handshake(app, id, key)).await.ok(200);
    r.json["token"].as_str().unwrap().into()
}

async fn an_ed25519_agent_runs_like_an_hmac_agent(b: Backend) {
    let (app, owner, agent, key) = enrolled(b).await;
    let token = token_of(&app, &agent.id, &key).await;
    app.heartbeat(
        &token,
        &heartbeat(&agent.id, "healthy", json!({"cpu_usage": 3})),
    )
    .await
    .ok(200);
    let detail = app.agent_detail(&owner, &agent.id).await;
    assert_eq!(detail["status"], "healthy");
    // Config delivery is unchanged: the envelope the owner stores reaches the agent.
    let es = EncryptionSecret::generate();
    let env = envelope(&es, &agent.id, 1, &config_document("ed"));
    app.put(
        &format!("/api/agents/{}/config", agent.id),
        &owner.token,
        &json!({ "config": env }),
    )
    .await
    .ok(200);
    let r = app
        .get(&format!("/api/agents/{}/config", agent.id), &token)
        .await
        .ok(200);
    assert_eq!(r.json["config"], env);
    // Rotation: a re-issued token cuts the old key and its tokens off at once.
    let r = issue(&app, &owner, &agent.id).await.ok(200);
    assert_eq!(r.json["agent"]["public_key"], Value::Null);
    let renewed = EdAgent {
        id: agent.id.clone(),
        token: r.json["enrollment_token"].as_str().unwrap().into(),
    };
    app.heartbeat(&token, &heartbeat(&agent.id, "healthy", json!({})))
        .await
        .err(401, "unauthorized");
    app.clock.advance(1);
    app.handshake(&ed_handshake(&app, &agent.id, &key))
        .await
        .err(401, "unauthorized");
    // The previous token is void, the new one enrolls a new key.
    let new_key = IdentityKey::generate();
    enroll(&app, &enroll_now(&app, &agent, &new_key))
        .await
        .err(401, "unauthorized");
    enroll(&app, &enroll_now(&app, &renewed, &new_key))
        .await
        .ok(200);
    let token = token_of(&app, &agent.id, &new_key).await;
    app.heartbeat(&token, &heartbeat(&agent.id, "idle", json!({})))
        .await
        .ok(200);
    app.clock.advance(1);
    app.handshake(&ed_handshake(&app, &agent.id, &key))
        .await
        .err(401, "unauthorized");
    // rotate-secret has nothing to rotate and says where to go.
    let r = app
        .post(
            &format!("/api/agents/{}/rotate-secret", agent.id),
            &owner.token,
            &json!({}),
        )
        .await;
    r.err(409, "conflict");
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("enrollment-token"),
        "{}",
        r.text
    );
    // Deletion: token, key and any enrollment are gone.
    app.delete(&format!("/api/agents/{}", agent.id), &owner.token)
        .await
        .ok(204);
    app.heartbeat(&token, &heartbeat(&agent.id, "idle", json!({})))
        .await
        .err(401, "unauthorized");
    app.clock.advance(1);
    app.handshake(&ed_handshake(&app, &agent.id, &new_key))
        .await
        .err(401, "unauthorized");
    let (_, findings) = app.state.audit().await.unwrap();
    assert!(findings.is_empty(), "{findings:?}");
}

/// An HMAC agent switched to Ed25519: the secret is deleted from the database at once
/// and its tokens are revoked. A thief holding an older dump (the sealed secret) and
/// the internal key can open the secret, but the server no longer accepts it, even if
/// the thief writes it back; and `audit` names that row.
async fn switching_deletes_the_secret_so_a_dump_cannot_sign(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "switching").await;
    let token = app.agent_token(&agent).await;
    let old_dump = stored_secret(&app, &agent.id)
        .await
        .expect("a sealed secret");

    let r = issue(&app, &owner, &agent.id).await.ok(200);
    assert_eq!(r.json["agent"]["identity"], "ed25519");
    let enrollment = EdAgent {
        id: agent.id.clone(),
        token: r.json["enrollment_token"].as_str().unwrap().into(),
    };
    assert!(enrollment.token.starts_with("ocf_et_"));
    assert_eq!(stored_secret(&app, &agent.id).await, None);
    let (_, findings) = app.state.audit().await.unwrap();
    assert!(findings.is_empty(), "{findings:?}");
    // Cut off now, before any enrollment: the old token and the old secret.
    app.heartbeat(&token, &heartbeat(&agent.id, "healthy", json!({})))
        .await
        .err(401, "unauthorized");
    app.clock.advance(1);
    app.handshake_now(&agent).await.err(401, "unauthorized");
    app.post(
        &format!("/api/agents/{}/rotate-secret", agent.id),
        &owner.token,
        &json!({}),
    )
    .await
    .err(409, "conflict");

    let key = IdentityKey::generate();
    enroll(&app, &enroll_now(&app, &enrollment, &key))
        .await
        .ok(200);
    app.handshake(&ed_handshake(&app, &agent.id, &key))
        .await
        .ok(200);
    assert_eq!(stored_secret(&app, &agent.id).await, None);

    // The thief writes the old sealed secret back: still no HMAC handshake, and the
    // audit finds it.
    let db = raw_db(&app).await;
    sqlx::query("UPDATE agents SET secret_sealed = $1 WHERE id = $2")
        .bind(&old_dump)
        .bind(&agent.id)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    app.clock.advance(1);
    app.handshake(&signed(&agent.id, &agent.secret, app.now()))
        .await
        .err(401, "unauthorized");
    let (_, findings) = app.state.audit().await.unwrap();
    assert!(
        findings.iter().any(|f| f.row == agent.id
            && f.column == "secret_sealed"
            && f.problem.contains("Ed25519 agent still has an HMAC secret")),
        "{findings:?}"
    );
}

async fn only_the_owner_may_issue_an_enrollment_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let mallory = app.other_owner("mallory@example.com").await;
    let agent = app.agent(&owner, "mine").await;
    let r = issue(&app, &mallory, &agent.id).await;
    r.err(404, "not_found");
    issue(&app, &mallory, &uuid::Uuid::new_v4().to_string())
        .await
        .err(404, "not_found");
    issue(&app, &owner, "not-a-uuid")
        .await
        .err(404, "not_found");
    // Nothing changed: still an HMAC agent with its secret.
    let detail = app.agent_detail(&owner, &agent.id).await;
    assert_eq!(detail["identity"], "hmac");
    app.handshake_now(&agent).await.ok(200);
    assert!(stored_secret(&app, &agent.id).await.is_some());
    // An unknown identity type is refused at creation.
    app.post(
        "/api/agents",
        &owner.token,
        &json!({"name": "x", "identity": "rsa"}),
    )
    .await
    .err(400, "invalid_request");
    // The log records the issue, never the token.
    let r = issue(&app, &owner, &agent.id).await.ok(200);
    let token = r.json["enrollment_token"].as_str().unwrap();
    let log = app
        .get("/api/activity?limit=50", &owner.token)
        .await
        .ok(200);
    assert!(log.text.contains("enrollment_token_issued"), "{}", log.text);
    assert!(!log.text.contains(&token[7..]));
}
