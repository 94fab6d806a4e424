//! The client address behind a reverse proxy (`trusted_proxies`): clients the proxy
//! reports are limited apart, an entry a client wrote itself is not believed, and a peer
//! that is not a trusted proxy is counted under its own address whatever it claims.

use openclaw_fleet::client_addr::TrustedProxies;
use reqwest::RequestBuilder;
use serde_json::json;

use crate::common::{Backend, TestApp, PASSWORD};

both_backends!(
    clients_behind_a_trusted_proxy_are_limited_apart,
    an_untrusted_peer_cannot_choose_its_address,
);

const WRONG: &str = "wrong password!!";

async fn proxied_app(b: Backend) -> TestApp {
    TestApp::spawn_with(b, |s| {
        s.trusted_proxies = TrustedProxies::parse_list("127.0.0.2").expect("setting");
    })
    .await
}

fn login(app: &TestApp, peer: u8, email: &str, password: &str) -> RequestBuilder {
    app.client_from(peer)
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": email, "password": password }))
}

async fn clients_behind_a_trusted_proxy_are_limited_apart(b: Backend) {
    let app = proxied_app(b).await;
    let owner = app.first_owner().await;
    let via_proxy = |client: &str, password: &str| {
        // The proxy appends the address it saw to what the client sent.
        login(&app, 2, &owner.email, password)
            .header("x-forwarded-for", format!("198.51.100.1, {client}"))
    };
    for _ in 0..5 {
        app.send(via_proxy("203.0.113.10", WRONG))
            .await
            .err(401, "invalid_credentials");
    }
    app.send(via_proxy("203.0.113.10", PASSWORD))
        .await
        .err(429, "rate_limited");
    // Another client of the same proxy is not affected; its own failures are its own.
    app.send(via_proxy("203.0.113.11", WRONG))
        .await
        .err(401, "invalid_credentials");
    app.send(via_proxy("203.0.113.11", PASSWORD)).await.ok(200);
    // A limited client cannot escape by writing another address in front of its own.
    app.send(
        login(&app, 2, &owner.email, PASSWORD)
            .header("x-forwarded-for", "203.0.113.99, 203.0.113.10"),
    )
    .await
    .err(429, "rate_limited");
    // RFC 7239 `Forwarded` from a proxy that sends no X-Forwarded-For.
    for _ in 0..5 {
        app.send(login(&app, 2, &owner.email, WRONG).header("forwarded", "for=203.0.113.12"))
            .await
            .err(401, "invalid_credentials");
    }
    app.send(login(&app, 2, &owner.email, PASSWORD).header("forwarded", "for=203.0.113.12"))
        .await
        .err(429, "rate_limited");
    app.send(login(&app, 2, &owner.email, PASSWORD).header("forwarded", "for=203.0.113.13"))
        .await
        .ok(200);
}

async fn an_untrusted_peer_cannot_choose_its_address(b: Backend) {
    let app = proxied_app(b).await;
    let owner = app.first_owner().await;
    // A new forged address on every try: all counted under the peer's own.
    for i in 0..5 {
        app.send(
            login(&app, 3, &owner.email, WRONG)
                .header("x-forwarded-for", format!("203.0.113.{i}"))
                .header("forwarded", format!("for=203.0.114.{i}")),
        )
        .await
        .err(401, "invalid_credentials");
    }
    app.send(login(&app, 3, &owner.email, PASSWORD).header("x-forwarded-for", "203.0.113.77"))
        .await
        .err(429, "rate_limited");
    // The addresses it named were never charged: a client there logs in via the proxy.
    app.send(login(&app, 2, &owner.email, PASSWORD).header("x-forwarded-for", "203.0.113.0"))
        .await
        .ok(200);
}
