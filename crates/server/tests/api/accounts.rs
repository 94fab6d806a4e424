//! The owner's own account under `/api/me/…`: a password change needs the current
//! password (wrong guesses are limited like logins), ends every other session and
//! leaves the master key and configs as they were; sessions are listed with where they
//! came from — never a token — and only their owner can end them (another account's
//! session id is 404); a disabled account cannot log in or use its sessions, while its
//! agents keep working.

use serde_json::{json, Value};

use crate::common::fixtures::{config_document, envelope, heartbeat, kdf, Wrap};
use crate::common::{Backend, Owner, TestApp, ANON, PASSWORD};

both_backends!(
    password_change_needs_the_current_one_and_ends_other_sessions,
    wrong_current_passwords_are_rate_limited,
    sessions_are_listed_and_ended_by_their_owner_only,
    disabled_account_cannot_log_in_and_its_agents_keep_working,
);

const NEW_PASSWORD: &str = "a brand new passphrase 42";

async fn login_as(app: &TestApp, email: &str, password: &str, user_agent: &str) -> Option<String> {
    let rb = app
        .client
        .post(app.url("/api/auth/login"))
        .header("user-agent", user_agent)
        .json(&json!({"email": email, "password": password}));
    let r = app.send(rb).await;
    (r.status == 200).then(|| r.json["token"].as_str().unwrap().to_string())
}

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> crate::common::Resp {
    let body = json!({"current_password": current, "new_password": new});
    app.post("/api/me/password", token, &body).await
}

async fn password_change_needs_the_current_one_and_ends_other_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let wrap = Wrap::new();
    let key = json!({"kdf": kdf(600_000), "key_check": wrap.key_check(&owner.id)});
    app.put("/api/me/master-key", &owner.token, &key)
        .await
        .ok(200);
    let agent = app.agent(&owner, "a").await;
    let es = openclaw_fleet_protocol::EncryptionSecret::generate();
    let env = envelope(&es, &agent.id, 1, &config_document("m"));
    app.put(
        &format!("/api/agents/{}/config", agent.id),
        &owner.token,
        &json!({"config": env}),
    )
    .await
    .ok(200);
    let before = (
        app.get("/api/me/master-key", &owner.token)
            .await
            .ok(200)
            .json,
        app.agent_detail(&owner, &agent.id).await["config"].clone(),
    );
    let other = login_as(&app, &owner.email, PASSWORD, "Phone/1")
        .await
        .unwrap();

    change(&app, &owner.token, "not my password at all", NEW_PASSWORD)
        .await
        .err(403, "wrong_password");
    change(&app, &owner.token, PASSWORD, "short")
        .await
        .err(400, "invalid_request");
    app.post(
        "/api/me/password",
        &owner.token,
        &json!({"new_password": NEW_PASSWORD}),
    )
    .await
    .err(400, "invalid_request");
    change(&app, ANON, PASSWORD, NEW_PASSWORD)
        .await
        .err(401, "unauthorized");
    app.get("/api/me", &other).await.ok(200);
    assert!(
        login_as(&app, &owner.email, PASSWORD, "x").await.is_some(),
        "unchanged after refusals"
    );

    let r = change(&app, &owner.token, PASSWORD, NEW_PASSWORD)
        .await
        .ok(200);
    assert_eq!(r.json["ended_sessions"], 2, "{}", r.text);
    app.get("/api/me", &owner.token).await.ok(200);
    app.get("/api/me", &other).await.err(401, "unauthorized");
    assert!(login_as(&app, &owner.email, PASSWORD, "x").await.is_none());
    assert!(login_as(&app, &owner.email, NEW_PASSWORD, "x")
        .await
        .is_some());
    let after = (
        app.get("/api/me/master-key", &owner.token)
            .await
            .ok(200)
            .json,
        app.agent_detail(&owner, &agent.id).await["config"].clone(),
    );
    assert_eq!(before, after, "the master key or a config changed");
}

async fn wrong_current_passwords_are_rate_limited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    for _ in 0..5 {
        change(&app, &owner.token, "wrong guess number x", NEW_PASSWORD)
            .await
            .err(403, "wrong_password");
    }
    let r = change(&app, &owner.token, PASSWORD, NEW_PASSWORD).await;
    r.err(429, "rate_limited");
    r.retry_after();
    assert!(login_as(&app, &owner.email, NEW_PASSWORD, "x")
        .await
        .is_none());
}

fn sessions(v: &Value) -> Vec<Value> {
    v["sessions"].as_array().expect("sessions").clone()
}

async fn sessions_are_listed_and_ended_by_their_owner_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let laptop = login_as(&app, &owner.email, PASSWORD, "Laptop/2.0 (X11)")
        .await
        .unwrap();
    let stranger: Owner = app.other_owner("stranger@example.com").await;

    let r = app.get("/api/me/sessions", &owner.token).await.ok(200);
    let list = sessions(&r.json);
    assert_eq!(list.len(), 2, "{}", r.text);
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "Laptop/2.0 (X11)");
    assert_eq!(other["client_addr"], "127.0.0.1");
    assert!(other["created_at"].is_i64() && other["expires_at"].is_i64());
    for secret in [&owner.token, &laptop] {
        let hash = openclaw_fleet::crypto::tokens::hash(secret);
        assert!(
            !r.text.contains(secret.as_str()) && !r.text.contains(&hash),
            "a token or its hash is shown"
        );
    }
    let laptop_id = other["id"].as_str().unwrap().to_string();

    // Another account cannot see or end them.
    let theirs = sessions(
        &app.get("/api/me/sessions", &stranger.token)
            .await
            .ok(200)
            .json,
    );
    assert!(theirs.iter().all(|s| s["id"] != laptop_id.as_str()));
    app.delete(&format!("/api/me/sessions/{laptop_id}"), &stranger.token)
        .await
        .err(404, "not_found");
    app.get("/api/me", &laptop).await.ok(200);
    for bad in ["00000000-0000-0000-0000-000000000000", "..%2F..%2Fx", "zz"] {
        app.delete(&format!("/api/me/sessions/{bad}"), &owner.token)
            .await
            .err(404, "not_found");
    }
    app.delete(&format!("/api/me/sessions/{laptop_id}"), ANON)
        .await
        .err(401, "unauthorized");

    app.delete(&format!("/api/me/sessions/{laptop_id}"), &owner.token)
        .await
        .ok(204);
    app.get("/api/me", &laptop).await.err(401, "unauthorized");
    let left = sessions(&app.get("/api/me/sessions", &owner.token).await.ok(200).json);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    // Last use is kept, at most once a minute.
    let used = left[0]["last_used_at"].as_i64().unwrap();
    app.clock.advance(61);
    app.get("/api/me", &owner.token).await.ok(200);
    let left = sessions(&app.get("/api/me/sessions", &owner.token).await.ok(200).json);
    assert_eq!(left[0]["last_used_at"].as_i64().unwrap(), used + 61);
}

async fn disabled_account_cannot_log_in_and_its_agents_keep_working(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "a").await;
    let token = app.agent_token(&agent).await;
    let hb = heartbeat(&agent.id, "healthy", json!({"cpu_usage": 1}));

    let ended = app
        .state
        .operator()
        .set_disabled(&owner.email, true)
        .await
        .unwrap();
    assert_eq!(ended, 1);
    app.get("/api/me", &owner.token)
        .await
        .err(401, "unauthorized");
    let r = app
        .post(
            "/api/auth/login",
            ANON,
            &json!({"email": owner.email, "password": PASSWORD}),
        )
        .await;
    r.err(403, "account_disabled");
    app.post(
        "/api/auth/login",
        ANON,
        &json!({"email": owner.email, "password": "wrong password!!"}),
    )
    .await
    .err(401, "invalid_credentials");
    app.heartbeat(&token, &hb).await.ok(200);
    let fresh = app.agent_token(&agent).await;
    app.heartbeat(&fresh, &hb).await.ok(200);

    app.state
        .operator()
        .set_disabled(&owner.email, false)
        .await
        .unwrap();
    assert!(login_as(&app, &owner.email, PASSWORD, "x").await.is_some());
}
