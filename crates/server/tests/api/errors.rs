//! Error answers (SPEC §0): every failure is a JSON `{error, message}` with the right
//! status, whatever went wrong with the request, and the server keeps serving. Also
//! the OpenAPI document, which must describe every route the router has.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{Backend, Owner, TestApp, ANON};

both_backends!(
    probes_answer,
    bad_bodies_are_400_json,
    oversized_body_is_413,
    unknown_routes_and_methods_are_json,
    openapi_lists_every_route,
);

/// The server still answers, and still knows the owner.
async fn still_serving(app: &TestApp, o: &Owner) {
    app.get("/healthz", ANON).await.ok(200);
    app.get("/api/me", &o.token).await.ok(200);
}

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: &str,
) -> crate::common::Resp {
    app.send(
        app.build(method, path, token)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

async fn probes_answer(b: Backend) {
    let app = TestApp::spawn(b).await;
    let live = app.get("/healthz", ANON).await.ok(200);
    assert_eq!(live.text, "ok");
    let ready = app.get("/readyz", ANON).await.ok(200);
    assert_eq!(ready.json, json!({"status": "ready"}));
    // Every answer carries the security headers; API answers are not cached.
    let r = app.get("/api/auth/status", ANON).await.ok(200);
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
}

async fn bad_bodies_are_400_json(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let cases = [
        (Method::POST, "/api/fleets", "{\"name\": "),
        (Method::POST, "/api/fleets", "not json"),
        (Method::POST, "/api/fleets", ""),
        (Method::POST, "/api/fleets", "{\"name\": 5}"),
        (Method::POST, "/api/fleets", "{\"name\": null}"),
        (Method::POST, "/api/fleets", "{}"),
        (Method::POST, "/api/fleets", "[]"),
        (Method::POST, "/api/agents", "{\"name\": [\"a\"]}"),
        (Method::POST, "/api/auth/login", "{\"email\": \"a@b.c\"}"),
        (
            Method::POST,
            "/api/auth/register",
            "{\"email\": 1, \"password\": 2}",
        ),
        (Method::PUT, "/api/me/master-key", "{\"kdf\": {}}"),
        (Method::POST, "/api/heartbeat", "{\"agent_id\": "),
    ];
    for (method, path, body) in cases {
        let token = if path == "/api/heartbeat" {
            ANON
        } else {
            o.token.as_str()
        };
        let r = raw(&app, method.clone(), path, token, body).await;
        if path == "/api/heartbeat" {
            // Authentication comes first for agent calls.
            r.err(401, "unauthorized");
        } else {
            assert_eq!(
                r.status.as_u16(),
                400,
                "{method} {path} {body:?} → {}",
                r.text
            );
            r.err(400, "invalid_request");
        }
        still_serving(&app, &o).await;
    }
    // The message names the problem but never echoes a value.
    let r = raw(
        &app,
        Method::POST,
        "/api/fleets",
        &o.token,
        "{\"name\": 5, \"ocf_as_x\": \"ocf_as_leak\"}",
    )
    .await;
    r.err(400, "invalid_request");
    assert!(!r.text.contains("ocf_as_"), "{}", r.text);
    // JSON without the JSON content type.
    let r = app
        .send(
            app.build(Method::POST, "/api/fleets", &o.token)
                .body("{\"name\": \"x\"}"),
        )
        .await;
    r.err(415, "unsupported_media_type");
    // Nothing was created by any of it.
    assert_eq!(
        app.get("/api/fleets", &o.token).await.json["fleets"],
        json!([])
    );
}

async fn oversized_body_is_413(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let huge = json!({ "name": "x".repeat(1024 * 1024 + 10) }).to_string();
    for (method, path, token) in [
        (Method::POST, "/api/fleets", o.token.as_str()),
        (Method::POST, "/api/agents/handshake", ANON),
        (Method::POST, "/api/auth/login", ANON),
    ] {
        let r = raw(&app, method, path, token, &huge).await;
        r.err(413, "payload_too_large");
        still_serving(&app, &o).await;
    }
    let fits = json!({ "name": "x".repeat(100) }).to_string();
    raw(&app, Method::POST, "/api/fleets", &o.token, &fits)
        .await
        .ok(201);
}

async fn unknown_routes_and_methods_are_json(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    for path in ["/api/nope", "/api", "/api/agents/x/y/z", "/api/fleets/a/b"] {
        for token in [ANON, o.token.as_str()] {
            let r = app.get(path, token).await;
            r.err(404, "not_found");
            still_serving(&app, &o).await;
        }
    }
    for (method, path) in [
        (Method::DELETE, "/api/fleets"),
        (Method::PATCH, "/api/me"),
        (Method::GET, "/api/agents/handshake"),
        (Method::PUT, "/api/heartbeat"),
        (
            Method::POST,
            "/api/agents/00000000-0000-4000-8000-000000000000",
        ),
        (Method::DELETE, "/api/openapi.json"),
    ] {
        let r = app.send(app.build(method.clone(), path, &o.token)).await;
        assert_eq!(r.status.as_u16(), 405, "{method} {path} → {}", r.text);
        r.err(405, "method_not_allowed");
        still_serving(&app, &o).await;
    }
}

/// Every route of `router.rs`, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/openapi.json"),
    ("get", "/api/auth/status"),
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/me"),
    ("get", "/api/me/master-key"),
    ("put", "/api/me/master-key"),
    ("get", "/api/fleets"),
    ("post", "/api/fleets"),
    ("get", "/api/fleets/{id}"),
    ("patch", "/api/fleets/{id}"),
    ("delete", "/api/fleets/{id}"),
    ("get", "/api/agents"),
    ("post", "/api/agents"),
    ("get", "/api/agents/{id}"),
    ("patch", "/api/agents/{id}"),
    ("delete", "/api/agents/{id}"),
    ("put", "/api/agents/{id}/wrapped-secret"),
    ("put", "/api/agents/{id}/config"),
    ("get", "/api/agents/{id}/config"),
    ("get", "/api/agents/{id}/config/history"),
    ("get", "/api/agents/{id}/config/history/{version}"),
    ("post", "/api/agents/{id}/rotate-secret"),
    ("post", "/api/agents/{id}/enrollment-token"),
    ("get", "/api/agents/{id}/metrics"),
    ("get", "/api/policies"),
    ("get", "/api/events"),
    ("post", "/api/agents/handshake"),
    ("post", "/api/agents/enroll"),
    ("post", "/api/heartbeat"),
    ("post", "/api/me/password"),
    ("get", "/api/me/sessions"),
    ("delete", "/api/me/sessions/{id}"),
    ("get", "/api/activity"),
    ("get", "/api/alerts/rules"),
    ("post", "/api/alerts/rules"),
    ("get", "/api/alerts/rules/{id}"),
    ("patch", "/api/alerts/rules/{id}"),
    ("delete", "/api/alerts/rules/{id}"),
    ("get", "/api/alerts/deliveries"),
];

async fn openapi_lists_every_route(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app.get("/api/openapi.json", ANON).await.ok(200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = serde_json::from_str(&r.text).expect("valid JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // Every documented operation is routed: no 404/405 from the router for any.
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path) in ROUTES {
        let path = path.replace("{id}", &id);
        let method: Method = method.to_uppercase().parse().unwrap();
        let rb = app.build(method.clone(), &path, ANON);
        let rb = if method == Method::GET || method == Method::DELETE {
            rb
        } else {
            rb.json(&json!({}))
        };
        let r = app.send(rb).await;
        assert!(
            ![404, 405].contains(&r.status.as_u16()),
            "{method} {path} → {} {}",
            r.status,
            r.text
        );
    }
}
