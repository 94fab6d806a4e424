//! Security headers on every answer: each operation of the OpenAPI document (with and
//! without credentials), every file of the dashboard, the app-shell fallback, and the
//! error answers (404, 405, 413). Each must carry a CSP that forbids framing and
//! inline script (`frame-ancestors 'none'`, no `'unsafe-inline'`/`'unsafe-eval'`),
//! `X-Content-Type-Options: nosniff` and a Referrer-Policy that sends no path to
//! another site; API answers must not be cached. The served page has no inline script.

use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::support::openapi::operations;
use crate::support::world::World;
use crate::support::{send, Cred};

both_backends!(every_answer_carries_the_security_headers);

#[track_caller]
fn check(headers: &HeaderMap, what: &str) {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = get("content-security-policy");
    let directives: Vec<Vec<&str>> = csp
        .split(';')
        .map(|d| d.split_whitespace().collect())
        .filter(|d: &Vec<&str>| !d.is_empty())
        .collect();
    let directive = |name: &str| directives.iter().find(|d| d[0] == name).map(|d| &d[1..]);
    assert_eq!(
        directive("frame-ancestors"),
        Some(&["'none'"][..]),
        "{what}: CSP {csp:?}"
    );
    for bad in [
        "'unsafe-inline'",
        "'unsafe-eval'",
        "*",
        "data:",
        "http:",
        "https:",
    ] {
        for d in ["script-src", "default-src"] {
            assert!(
                !directive(d).unwrap_or_default().contains(&bad),
                "{what}: {d} allows {bad}: {csp:?}"
            );
        }
    }
    assert!(
        !csp.contains("'unsafe-inline'"),
        "{what}: CSP allows inline: {csp:?}"
    );
    assert_eq!(
        directive("script-src"),
        Some(&["'self'"][..]),
        "{what}: {csp:?}"
    );
    assert_eq!(
        directive("object-src"),
        Some(&["'none'"][..]),
        "{what}: {csp:?}"
    );
    assert!(directive("base-uri").is_some(), "{what}: {csp:?}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    let referrer = get("referrer-policy");
    assert!(
        ["no-referrer", "same-origin", "strict-origin"].contains(&referrer.as_str()),
        "{what}: Referrer-Policy {referrer:?}"
    );
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
}

async fn fetch(app: &TestApp, method: Method, path: &str, cred: &Cred) -> HeaderMap {
    let r = send(app, method.clone(), path, cred, None).await;
    let what = format!("{method} {path} ({})", r.status);
    check(&r.headers, &what);
    if path.starts_with("/api/") {
        let cache = r.header("cache-control").unwrap_or_default();
        assert!(
            cache.contains("no-store"),
            "{what}: Cache-Control {cache:?}"
        );
    }
    if !r.text.is_empty() {
        assert!(
            r.header("content-type").is_some(),
            "{what}: no Content-Type"
        );
    }
    r.headers
}

fn web_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("web dir") {
        let path = entry.expect("entry").path();
        let rel = path.strip_prefix(root).expect("under web/");
        let name = rel.to_string_lossy().to_string();
        if name == "tests" || name == "node_modules" || name.ends_with(".md") {
            continue;
        }
        if path.is_dir() {
            web_files(&path, root, out);
        } else {
            out.push(format!("/{name}"));
        }
    }
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let w = World::with(backend, |s| s.max_body_bytes = 64 * 1024).await;
    let app = &w.app;
    let (_, ops) = operations(app).await;
    let ids = w.a.ids();
    for op in &ops {
        let path = ids.fill(&op.path);
        if op.stream {
            let r = app
                .client
                .get(app.url(&path))
                .bearer_auth(&w.a.owner.token)
                .send()
                .await
                .expect("stream answers");
            check(r.headers(), &format!("{} (stream)", op.label()));
            continue;
        }
        // Anonymous: refused (or public) answers.
        fetch(app, op.method.clone(), &path, &Cred::None).await;
        // With credentials: real answers for reads, refusals of an empty body for writes.
        if op.method == Method::GET {
            fetch(app, Method::GET, &path, &w.a.cred(op)).await;
        } else if op.body.is_some() {
            let r = send(
                app,
                op.method.clone(),
                &path,
                &w.a.cred(op),
                Some(&json!({})),
            )
            .await;
            check(&r.headers, &format!("{} with an empty object", op.label()));
        }
    }

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let mut files = Vec::new();
    web_files(&root, &root, &mut files);
    assert!(files.iter().any(|f| f == "/index.html"), "{files:?}");
    for page in files
        .iter()
        .map(String::as_str)
        .chain(["/", "/agents/x", "/missing.js"])
    {
        fetch(app, Method::GET, page, &Cred::None).await;
    }
    for (method, path) in [
        (Method::GET, "/api/nope"),
        (Method::DELETE, "/api/fleets"),
        (Method::PUT, "/healthz"),
    ] {
        fetch(app, method, path, &Cred::Bearer(w.a.owner.token.clone())).await;
    }
    let huge = json!({ "name": "x".repeat(64 * 1024) });
    let r = send(
        app,
        Method::POST,
        "/api/fleets",
        &Cred::Bearer(w.a.owner.token.clone()),
        Some(&huge),
    )
    .await;
    assert_eq!(r.status.as_u16(), 413);
    check(&r.headers, "413");

    let page = app.get("/", "").await.ok(200).text;
    let lower = page.to_lowercase();
    for (i, _) in lower.match_indices("<script") {
        let tag = &lower[i..i + lower[i..].find('>').expect("tag end")];
        assert!(tag.contains(" src="), "inline script in the page: {tag}");
    }
    for attr in [" onload=", " onclick=", " onerror=", "javascript:"] {
        assert!(!lower.contains(attr), "inline handler {attr} in the page");
    }
}
