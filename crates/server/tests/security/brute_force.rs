//! Brute force: guessing a password or an agent's HMAC is slowed to a crawl, for the
//! guesser only. Login failures count per (account, address) and per address; past the
//! limit every login from there — even a right one, so the limit is no oracle — answers
//! 429 `rate_limited` with a `Retry-After` of at most the window. Handshake failures count
//! per (agent, address) and per address; past the limit a failing handshake answers 429,
//! while a correct signature is always accepted.

use serde_json::json;

use crate::common::fixtures::signed;
use crate::common::{Backend, Resp, TestApp, PASSWORD};
use crate::support::client_at;

both_backends!(
    password_guessing_is_rate_limited,
    handshake_forgery_is_rate_limited,
);

const LOGIN_WINDOW: u64 = 15 * 60;
const HANDSHAKE_WINDOW: u64 = 60;

async fn login_from(app: &TestApp, n: u16, email: &str, password: &str) -> Resp {
    let body = json!({ "email": email, "password": password });
    app.send(client_at(n).post(app.url("/api/auth/login")).json(&body))
        .await
}

async fn handshake_from(app: &TestApp, n: u16, body: &serde_json::Value) -> Resp {
    app.send(
        client_at(n)
            .post(app.url("/api/agents/handshake"))
            .json(body),
    )
    .await
}

#[track_caller]
fn limited(r: &Resp, window: u64) {
    r.err(429, "rate_limited");
    assert!(r.retry_after() <= window, "Retry-After {}", r.retry_after());
}

async fn password_guessing_is_rate_limited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    // Guessing one account from one address: that address is limited, and past the
    // limit even the right password from it waits (the limit is no oracle).
    let mut n = 0;
    loop {
        n += 1;
        let r = login_from(&app, 1, &owner.email, &format!("guess number {n}")).await;
        if r.status == 429 {
            limited(&r, LOGIN_WINDOW);
            break;
        }
        r.err(401, "invalid_credentials");
        assert!(n <= 10, "no limit after {n} wrong passwords");
    }
    limited(
        &login_from(&app, 1, &owner.email, PASSWORD).await,
        LOGIN_WINDOW,
    );
    // The owner is not locked out: a spray from many addresses limits each of them only.
    for n in 2..40 {
        login_from(&app, n, &owner.email, &format!("guess number {n}"))
            .await
            .err(401, "invalid_credentials");
    }
    login_from(&app, 500, &owner.email, PASSWORD).await.ok(200);
    app.clock.advance(LOGIN_WINDOW as i64);
    login_from(&app, 1, &owner.email, PASSWORD).await.ok(200);

    // Stuffing from one address across many accounts: the address is limited.
    let mut tries = 0;
    loop {
        tries += 1;
        let r = login_from(&app, 900, &format!("user{tries}@example.com"), PASSWORD).await;
        if r.status == 429 {
            limited(&r, LOGIN_WINDOW);
            break;
        }
        r.err(401, "invalid_credentials");
        assert!(tries <= 40, "no address limit after {tries} failures");
    }
    limited(
        &login_from(&app, 900, &owner.email, PASSWORD).await,
        LOGIN_WINDOW,
    );
    login_from(&app, 901, &owner.email, PASSWORD).await.ok(200);
}

async fn handshake_forgery_is_rate_limited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "target").await;
    let wrong = openclaw_fleet_protocol::AgentSecret::generate();
    // Forged signatures for one agent from one address: that address is limited for
    // that agent, while the agent's own signature is accepted, there and elsewhere.
    let mut n = 0;
    loop {
        n += 1;
        app.clock.advance(1);
        let forged = signed(&agent.id, wrong.expose_secret(), app.now());
        let r = handshake_from(&app, 600, &forged).await;
        if r.status == 429 {
            limited(&r, HANDSHAKE_WINDOW);
            break;
        }
        r.err(401, "unauthorized");
        assert!(n <= 20, "no limit after {n} forgeries");
    }
    app.clock.advance(1);
    let good = signed(&agent.id, &agent.secret, app.now());
    handshake_from(&app, 600, &good).await.ok(200);
    app.clock.advance(1);
    let good = signed(&agent.id, &agent.secret, app.now());
    handshake_from(&app, 601, &good).await.ok(200);

    // Junk and unknown agents from one address: the address is limited.
    let mut tries = 0;
    loop {
        tries += 1;
        app.clock.advance(1);
        let ghost = uuid::Uuid::new_v4().to_string();
        let body = if tries % 2 == 0 {
            signed(&ghost, wrong.expose_secret(), app.now())
        } else {
            json!({ "agent_id": ghost, "timestamp": "x", "signature": "00" })
        };
        let r = handshake_from(&app, 700, &body).await;
        if r.status == 429 {
            limited(&r, HANDSHAKE_WINDOW);
            break;
        }
        assert!([400, 401].contains(&r.status.as_u16()), "{}", r.text);
        assert!(tries <= 40, "no address limit after {tries} failures");
    }
    app.clock.advance(1);
    let good = signed(&agent.id, &agent.secret, app.now());
    handshake_from(&app, 700, &good).await.ok(200);
}
