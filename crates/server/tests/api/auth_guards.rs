//! What guards owner sessions: login rate limits per account and per client address,
//! and the CSRF rule for cookie-authenticated writes (SPEC §7, docs/api.md).

use reqwest::Method;
use serde_json::json;

use crate::common::{Backend, TestApp, ANON, PASSWORD};

both_backends!(
    login_rate_limit_per_account,
    login_rate_limit_per_address,
    cookie_writes_need_a_matching_origin,
    public_url_sets_the_origin_and_secure_cookie,
);

fn creds(email: &str, password: &str) -> serde_json::Value {
    json!({ "email": email, "password": password })
}

async fn login_rate_limit_per_account(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let other = app.other_owner("other@example.com").await;
    let attempt = |octet: u8, email: String, password: &'static str| {
        let client = app.client_from(octet);
        let url = app.url("/api/auth/login");
        let app = &app;
        async move {
            app.send(client.post(url).json(&creds(&email, password)))
                .await
        }
    };
    // Five failures for one account, each from its own address: no address is locked.
    for octet in 10..15 {
        attempt(octet, owner.email.clone(), "wrong password!!")
            .await
            .err(401, "invalid_credentials");
    }
    let locked = attempt(20, owner.email.clone(), PASSWORD).await;
    locked.err(429, "rate_limited");
    assert!(locked.retry_after() <= 15 * 60);
    // Other accounts, from the same addresses, still log in.
    attempt(10, other.email.clone(), PASSWORD).await.ok(200);
    // The lock ends with its window.
    app.clock.advance(15 * 60);
    attempt(21, owner.email.clone(), PASSWORD).await.ok(200);
}

async fn login_rate_limit_per_address(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let from = app.client_from(30);
    for i in 0..5 {
        let email = format!("guess{i}@example.com");
        app.send(
            from.post(app.url("/api/auth/login"))
                .json(&creds(&email, PASSWORD)),
        )
        .await
        .err(401, "invalid_credentials");
    }
    let locked = app
        .send(
            from.post(app.url("/api/auth/login"))
                .json(&creds(&owner.email, PASSWORD)),
        )
        .await;
    locked.err(429, "rate_limited");
    locked.retry_after();
    // Another address is not affected, and the account itself is not locked.
    app.send(
        app.client_from(31)
            .post(app.url("/api/auth/login"))
            .json(&creds(&owner.email, PASSWORD)),
    )
    .await
    .ok(200);
}

async fn cookie_writes_need_a_matching_origin(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    app.send(
        browser
            .post(app.url("/api/auth/login"))
            .json(&creds(&owner.email, PASSWORD)),
    )
    .await
    .ok(200);
    let fleet = |name: &str| json!({ "name": name });

    app.send(
        browser
            .post(app.url("/api/fleets"))
            .json(&fleet("no-origin")),
    )
    .await
    .err(403, "csrf_rejected");
    app.send(
        browser
            .post(app.url("/api/fleets"))
            .header("origin", "http://evil.example")
            .json(&fleet("foreign")),
    )
    .await
    .err(403, "csrf_rejected");
    app.send(
        browser
            .post(app.url("/api/fleets"))
            .header("origin", "null")
            .json(&fleet("null-origin")),
    )
    .await
    .err(403, "csrf_rejected");
    // Reads need no Origin; nothing was created by the refused writes.
    let list = app.send(browser.get(app.url("/api/fleets"))).await.ok(200);
    assert_eq!(list.json["fleets"], json!([]));

    app.send(
        browser
            .post(app.url("/api/fleets"))
            .header("origin", app.origin())
            .json(&fleet("same-origin")),
    )
    .await
    .ok(201);
    // Bearer writes are not exposed to CSRF and need no Origin.
    app.post("/api/fleets", &owner.token, &fleet("bearer"))
        .await
        .ok(201);
    let list = app.get("/api/fleets", &owner.token).await.ok(200);
    let names: Vec<&str> = list.json["fleets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bearer", "same-origin"]);
}

async fn public_url_sets_the_origin_and_secure_cookie(b: Backend) {
    let public = "https://fleet.example.com";
    let app = TestApp::spawn_with(b, |s| s.public_url = Some(public.into())).await;
    let owner = app.first_owner().await;
    let r = app.login(&owner.email, PASSWORD).await.ok(200);
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));
    let token = r.json["token"].as_str().unwrap().to_string();
    let write = |origin: &str| {
        app.build(Method::POST, "/api/fleets", ANON)
            .header("cookie", format!("ocf_session={token}"))
            .header("origin", origin)
            .json(&json!({"name": origin}))
    };
    // Behind a proxy the Host is internal: only the public origin counts.
    app.send(write(&app.origin()))
        .await
        .err(403, "csrf_rejected");
    app.send(write("https://evil.example"))
        .await
        .err(403, "csrf_rejected");
    app.send(write(public)).await.ok(201);
}
