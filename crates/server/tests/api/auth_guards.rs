//! What guards owner sessions: login limits per (account, address) and per address,
//! and the CSRF rule for cookie-authenticated writes (SPEC §7, docs/api.md).

use reqwest::Method;
use serde_json::json;

use crate::common::{Backend, Resp, TestApp, ANON, PASSWORD};

both_backends!(
    login_failures_limit_the_address_not_the_account,
    login_rate_limit_per_address,
    parallel_wrong_logins_count_each,
    cookie_writes_need_a_matching_origin,
    public_url_sets_the_origin_and_secure_cookie,
);

fn creds(email: &str, password: &str) -> serde_json::Value {
    json!({ "email": email, "password": password })
}

/// Wrong passwords per (account, address) and per address in a 15-minute window.
const PER_ACCOUNT: usize = 5;
const PER_ADDRESS: usize = 20;
const WINDOW: i64 = 15 * 60;

async fn login_from(app: &TestApp, octet: u8, email: &str, password: &str) -> Resp {
    app.send(
        app.client_from(octet)
            .post(app.url("/api/auth/login"))
            .json(&creds(email, password)),
    )
    .await
}

/// Guessing one account's password from one address limits that address (even its right
/// password then waits, so the limit is no oracle), never the account: a spray from
/// many addresses does not keep the owner out.
async fn login_failures_limit_the_address_not_the_account(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let other = app.other_owner("other@example.com").await;
    for octet in 10..20 {
        login_from(&app, octet, &owner.email, "wrong password!!")
            .await
            .err(401, "invalid_credentials");
    }
    for _ in 0..PER_ACCOUNT {
        login_from(&app, 20, &owner.email, "wrong password!!")
            .await
            .err(401, "invalid_credentials");
    }
    for password in ["wrong password!!", PASSWORD] {
        let locked = login_from(&app, 20, &owner.email, password).await;
        locked.err(429, "rate_limited");
        assert!(locked.retry_after() <= WINDOW as u64);
    }
    // The owner, from an address that did not fail, and other accounts, log in.
    login_from(&app, 21, &owner.email, PASSWORD).await.ok(200);
    login_from(&app, 10, &owner.email, PASSWORD).await.ok(200);
    login_from(&app, 20, &other.email, PASSWORD).await.ok(200);
    // The limit ends with its window.
    app.clock.advance(WINDOW);
    login_from(&app, 20, &owner.email, PASSWORD).await.ok(200);
}

/// Stuffing from one address across many accounts limits that address.
async fn login_rate_limit_per_address(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    for i in 0..PER_ADDRESS {
        login_from(&app, 30, &format!("guess{i}@example.com"), PASSWORD)
            .await
            .err(401, "invalid_credentials");
    }
    let locked = login_from(&app, 30, &owner.email, PASSWORD).await;
    locked.err(429, "rate_limited");
    locked.retry_after();
    login_from(&app, 31, &owner.email, PASSWORD).await.ok(200);
}

/// A burst of wrong passwords sent all at once is counted attempt by attempt: exactly
/// the limit reaches the password check, the rest are refused.
async fn parallel_wrong_logins_count_each(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let attacker = app.client_from(40);
    let body = creds(&owner.email, "wrong password!!");
    let burst = (0..100).map(|_| app.send(attacker.post(app.url("/api/auth/login")).json(&body)));
    let answers = futures::future::join_all(burst).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let refused = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!((checked, refused), (PER_ACCOUNT, 100 - PER_ACCOUNT));
    login_from(&app, 41, &owner.email, PASSWORD).await.ok(200);
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
