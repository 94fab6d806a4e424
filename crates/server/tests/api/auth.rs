//! Accounts (SPEC §7): registration rules (also under concurrency), login, cookie and
//! bearer sessions, logout and expiry.

use reqwest::Method;
use serde_json::json;

use crate::common::{Backend, TestApp, ANON, PASSWORD};

both_backends!(
    registration_is_first_come_then_closed,
    concurrent_first_registrations_create_one_account,
    open_registration_allows_more_accounts,
    login_answers_token_and_strict_cookie,
    logout_ends_the_session,
    owner_session_expires,
    wrong_password_and_unknown_email_are_refused_alike,
);

fn creds(email: &str, password: &str) -> serde_json::Value {
    json!({ "email": email, "password": password })
}

async fn registration_is_first_come_then_closed(b: Backend) {
    let app = TestApp::spawn(b).await;
    let status = app.get("/api/auth/status", ANON).await.ok(200);
    assert_eq!(
        status.json,
        json!({"has_users": false, "registration_open": true})
    );

    let r = app
        .post(
            "/api/auth/register",
            ANON,
            &creds(" First@Example.COM ", PASSWORD),
        )
        .await
        .ok(201);
    assert_eq!(r.json["user"]["email"], "first@example.com");
    assert_eq!(r.json["user"]["id"].as_str().unwrap().len(), 36);

    let status = app.get("/api/auth/status", ANON).await.ok(200);
    assert_eq!(
        status.json,
        json!({"has_users": true, "registration_open": false})
    );
    app.post(
        "/api/auth/register",
        ANON,
        &creds("second@example.com", PASSWORD),
    )
    .await
    .err(403, "registration_closed");
    // The refused account was not created.
    app.login("second@example.com", PASSWORD)
        .await
        .err(401, "invalid_credentials");
}

async fn concurrent_first_registrations_create_one_account(b: Backend) {
    let app = TestApp::spawn(b).await;
    let attempts = (0..6).map(|i| {
        let body = creds(&format!("racer{i}@example.com"), PASSWORD);
        let app = &app;
        async move { app.post("/api/auth/register", ANON, &body).await }
    });
    let answers = futures::future::join_all(attempts).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 201) {
        r.err(403, "registration_closed");
    }
    // Exactly one of them can log in (each from its own address: the failed logins
    // would otherwise lock one address out).
    let mut ok = 0;
    for i in 0..6 {
        let body = creds(&format!("racer{i}@example.com"), PASSWORD);
        let client = app.client_from(150 + i);
        let r = app
            .send(client.post(app.url("/api/auth/login")).json(&body))
            .await;
        ok += usize::from(r.status == 200);
    }
    assert_eq!(ok, 1);
}

async fn open_registration_allows_more_accounts(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.open_registration = true).await;
    app.post(
        "/api/auth/register",
        ANON,
        &creds("a@example.com", PASSWORD),
    )
    .await
    .ok(201);
    app.post(
        "/api/auth/register",
        ANON,
        &creds("b@example.com", PASSWORD),
    )
    .await
    .ok(201);
    app.post(
        "/api/auth/register",
        ANON,
        &creds("B@example.com", PASSWORD),
    )
    .await
    .err(409, "conflict");
    app.post(
        "/api/auth/register",
        ANON,
        &creds("c@example.com", "short pass"),
    )
    .await
    .err(400, "invalid_request");
    app.post("/api/auth/register", ANON, &creds("not-an-email", PASSWORD))
        .await
        .err(400, "invalid_request");
    app.login("b@example.com", PASSWORD).await.ok(200);
}

async fn login_answers_token_and_strict_cookie(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.first_owner().await;
    let r = app.login("owner@example.com", PASSWORD).await.ok(200);
    let token = r.json["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ocf_st_"));
    assert_eq!(r.json["user"]["email"], "owner@example.com");
    let cookie = r.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.starts_with(&format!("ocf_session={token};")),
        "{cookie}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "cookie lacks {attr}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP cookie marked Secure"
    );
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));

    let me = app.get("/api/me", &token).await.ok(200);
    assert_eq!(me.json["email"], "owner@example.com");
    app.get("/api/me", ANON).await.err(401, "unauthorized");
    app.get("/api/me", "ocf_st_not-a-real-token")
        .await
        .err(401, "unauthorized");

    // Behind a TLS-terminating proxy the cookie is Secure.
    let r = app
        .send(
            app.build(Method::POST, "/api/auth/login", ANON)
                .header("x-forwarded-proto", "https")
                .json(&creds("owner@example.com", PASSWORD)),
        )
        .await
        .ok(200);
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));

    // A browser-like client keeps the cookie and is recognised by it alone.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    app.send(
        browser
            .post(app.url("/api/auth/login"))
            .json(&creds("owner@example.com", PASSWORD)),
    )
    .await
    .ok(200);
    let me = app.send(browser.get(app.url("/api/me"))).await.ok(200);
    assert_eq!(me.json["email"], "owner@example.com");
}

async fn logout_ends_the_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let other = app.login(&owner.email, PASSWORD).await.ok(200);
    let other = other.json["token"].as_str().unwrap().to_string();

    let r = app
        .post("/api/auth/logout", &owner.token, &json!({}))
        .await
        .ok(204);
    let cleared = r.header("set-cookie").expect("cookie cleared");
    assert!(cleared.starts_with("ocf_session=;") && cleared.contains("Max-Age=0"));
    app.get("/api/me", &owner.token)
        .await
        .err(401, "unauthorized");
    app.post("/api/auth/logout", &owner.token, &json!({}))
        .await
        .err(401, "unauthorized");
    // Only that session ended.
    app.get("/api/me", &other).await.ok(200);

    // A cookie session ends the same way.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = app
        .send(
            browser
                .post(app.url("/api/auth/login"))
                .json(&creds(&owner.email, PASSWORD)),
        )
        .await
        .ok(200);
    let cookie_token = login.json["token"].as_str().unwrap().to_string();
    app.send(
        browser
            .post(app.url("/api/auth/logout"))
            .header("origin", app.origin()),
    )
    .await
    .ok(204);
    app.send(browser.get(app.url("/api/me")))
        .await
        .err(401, "unauthorized");
    app.get("/api/me", &cookie_token)
        .await
        .err(401, "unauthorized");
}

async fn owner_session_expires(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.session_ttl_secs = 3600).await;
    let owner = app.first_owner().await;
    let r = app.login(&owner.email, PASSWORD).await.ok(200);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=3600"));
    app.clock.advance(3599);
    app.get("/api/me", &owner.token).await.ok(200);
    app.clock.advance(1);
    app.get("/api/me", &owner.token)
        .await
        .err(401, "unauthorized");
    app.post("/api/fleets", &owner.token, &json!({"name": "late"}))
        .await
        .err(401, "unauthorized");
}

async fn wrong_password_and_unknown_email_are_refused_alike(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let wrong = app.login(&owner.email, "wrong password here").await;
    wrong.err(401, "invalid_credentials");
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    unknown.err(401, "invalid_credentials");
    assert_eq!(wrong.json, unknown.json);
    assert!(wrong.header("set-cookie").is_none());
}
