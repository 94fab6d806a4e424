//! CSRF: every write operation an owner session may make (read from the OpenAPI
//! document), sent with the session cookie but without the server's own `Origin` —
//! none, a foreign site, `null`, another scheme, port or host spelling — is refused
//! with 403 `csrf_rejected` before it touches anything, and so is the plain-HTTP
//! origin of a request a TLS proxy marks as HTTPS. With the server's own origin
//! the very same requests succeed, so the refusals are the CSRF rule at work.

use reqwest::Method;

use crate::common::Backend;
use crate::support::bodies::{require, valid_body};
use crate::support::openapi::{operations, Auth, Operation};
use crate::support::world::World;
use crate::support::{db, send, Cred};

both_backends!(cookie_writes_need_the_servers_own_origin);

fn order(op: &Operation) -> (bool, bool, u8, bool) {
    let rank = match op.method {
        Method::PUT | Method::PATCH => 0,
        Method::POST => 1,
        _ => 2,
    };
    // A password change ends the other sessions; a logout ends this one; a switch to
    // Ed25519 ends the agent's secret (which rotate-secret and the handshake need).
    (
        op.path == "/api/auth/logout",
        op.path == "/api/me/password",
        rank,
        op.path.ends_with("/enrollment-token"),
    )
}

async fn cookie_writes_need_the_servers_own_origin(backend: Backend) {
    let w = World::new(backend).await;
    let app = &w.app;
    let (_, ops) = operations(app).await;
    let mut writes: Vec<&Operation> = ops
        .iter()
        .filter(|o| o.is_write() && o.auth == Auth::Session)
        .collect();
    assert!(
        writes.len() >= 9,
        "too few owner write routes: {}",
        writes.len()
    );
    let own = app.origin();
    let port = own.rsplit(':').next().expect("port").to_string();
    // (Origin, whether a TLS-terminating proxy says the request came over HTTPS)
    let foreign: Vec<(Option<String>, bool)> = vec![
        (None, false),
        (Some("http://evil.example".into()), false),
        (Some("null".into()), false),
        (
            Some(format!(
                "http://127.0.0.1:{}",
                port.parse::<u16>().unwrap() ^ 1
            )),
            false,
        ),
        (Some(format!("http://localhost:{port}")), false),
        (Some(format!("{own}.evil.example")), false),
        (Some(format!("http://evil.example/{own}")), false),
        (Some(format!("{own}/")), false),
        // A page injected into plain HTTP must not write through an HTTPS session.
        (Some(own.clone()), true),
    ];
    let before = db::dump(app).await;
    let ids = w.a.ids();
    for op in &writes {
        let body = require(op, valid_body(app, &w.a, op).await);
        for (origin, tls) in &foreign {
            let mut rb = app
                .client
                .request(op.method.clone(), app.url(&ids.fill(&op.path)))
                .header("cookie", format!("ocf_session={}", w.a.owner.token));
            if let Some(o) = origin {
                rb = rb.header("origin", o);
            }
            if *tls {
                rb = rb.header("x-forwarded-proto", "https");
            }
            if let Some(b) = &body {
                rb = rb.json(b);
            }
            let r = app.send(rb).await;
            assert_eq!(
                r.status.as_u16(),
                403,
                "{} with Origin {origin:?} (TLS: {tls}): {}",
                op.label(),
                r.text
            );
            r.err(403, "csrf_rejected");
        }
    }
    db::assert_same(&before, &db::dump(app).await, "cross-site cookie writes");

    writes.sort_by_key(|o| order(o));
    for op in writes {
        let body = valid_body(app, &w.a, op).await;
        let cred = Cred::Cookie {
            token: w.a.owner.token.clone(),
            origin: Some(own.clone()),
        };
        let r = send(
            app,
            op.method.clone(),
            &ids.fill(&op.path),
            &cred,
            body.as_ref(),
        )
        .await;
        assert!(
            r.status.is_success(),
            "same-origin cookie {} failed: {} {}",
            op.label(),
            r.status,
            r.text
        );
    }
}
