//! IDOR: for every operation whose path takes an id (read from the OpenAPI document),
//! owner B calling it with owner A's real ids gets the answer of an id that does not
//! exist (404 for owner routes; 401 for agent-token routes, whose token names another
//! agent), learns nothing of A's objects, and changes nothing: the database and
//! everything A can read are the same afterwards. The same requests then succeed for
//! A, so B was refused for who it is, not for a malformed request. Ids carried in
//! bodies and queries (fleet filter, new agent's fleet, heartbeat, master-key change,
//! envelope label) reach nothing of A's either.

use reqwest::Method;
use serde_json::json;

use crate::common::fixtures;
use crate::common::{Backend, PASSWORD};
use crate::support::bodies::{require, valid_body};
use crate::support::openapi::{operations, Auth, Ids, Operation};
use crate::support::world::{snapshot, World};
use crate::support::{assert_client_error, db, send, Cred};

both_backends!(
    every_id_route_answers_another_owner_as_if_nothing_existed,
    ids_in_bodies_and_queries_reach_nothing,
    a_refused_delete_keeps_the_replay_record,
);

fn rank(op: &Operation) -> (u8, bool) {
    let rank = match op.method {
        Method::GET => 0,
        Method::PUT | Method::PATCH => 1,
        Method::POST => 2,
        _ => 3,
    };
    // A switch to Ed25519 ends the agent's secret, which rotate-secret needs.
    (rank, op.path.ends_with("/enrollment-token"))
}

async fn every_id_route_answers_another_owner_as_if_nothing_existed(backend: Backend) {
    let w = World::new(backend).await;
    let app = &w.app;
    let (_, ops) = operations(app).await;
    let mut targets: Vec<&Operation> = ops.iter().filter(|o| o.takes_id()).collect();
    assert!(
        targets.len() >= 9,
        "too few id routes found: {}",
        targets.len()
    );
    let view_before = snapshot(app, &w.a, &ops).await;
    let db_before = db::dump(app).await;
    let (a_ids, ghost) = (
        w.a.ids(),
        Ids {
            fleet: uuid::Uuid::new_v4().to_string(),
            agent: uuid::Uuid::new_v4().to_string(),
            version: "1".into(),
            session: uuid::Uuid::new_v4().to_string(),
            rule: uuid::Uuid::new_v4().to_string(),
        },
    );
    let a_secrets = [
        w.a.agent.id.as_str(),
        w.a.fleet.as_str(),
        "agent-a",
        "fleet-a",
    ];

    for op in &targets {
        let body = require(op, valid_body(app, &w.a, op).await);
        let creds = match op.auth {
            Auth::Session => vec![
                Cred::Bearer(w.b.owner.token.clone()),
                Cred::Cookie {
                    token: w.b.owner.token.clone(),
                    origin: Some(app.origin()),
                },
            ],
            Auth::AgentToken => vec![Cred::Bearer(w.b.token.clone())],
            Auth::Public => vec![Cred::None],
        };
        for cred in creds {
            let what = format!("B ({cred:?}) on A's {}", op.label());
            let r = send(
                app,
                op.method.clone(),
                &a_ids.fill(&op.path),
                &cred,
                body.as_ref(),
            )
            .await;
            assert_client_error(&r, &what);
            match op.auth {
                Auth::AgentToken => assert!(
                    [401, 404].contains(&r.status.as_u16()),
                    "{what}: {} {}",
                    r.status,
                    r.text
                ),
                _ => r.err(404, "not_found"),
            }
            let g = send(
                app,
                op.method.clone(),
                &ghost.fill(&op.path),
                &cred,
                body.as_ref(),
            )
            .await;
            assert_eq!(
                (g.status, &g.json),
                (r.status, &r.json),
                "{what}: answered unlike an id that does not exist"
            );
            for s in a_secrets {
                assert!(!r.text.contains(s), "{what}: the answer names A's {s}");
            }
        }
    }

    db::assert_same(&db_before, &db::dump(app).await, "B's requests on A's ids");
    assert_eq!(
        snapshot(app, &w.a, &ops).await,
        view_before,
        "what A reads changed"
    );
    // A's agent secret was not rotated away by B.
    app.agent_token(&w.a.agent).await;

    targets.sort_by_key(|o| rank(o));
    for op in targets {
        let body = valid_body(app, &w.a, op).await;
        let r = send(
            app,
            op.method.clone(),
            &a_ids.fill(&op.path),
            &w.a.cred(op),
            body.as_ref(),
        )
        .await;
        assert!(
            r.status.is_success(),
            "A's own {} failed, so the sweep proved nothing: {} {}",
            op.label(),
            r.status,
            r.text
        );
    }
}

async fn ids_in_bodies_and_queries_reach_nothing(backend: Backend) {
    let w = World::new(backend).await;
    let app = &w.app;
    let (_, ops) = operations(app).await;
    let (a, b) = (&w.a, &w.b);
    let view_before = snapshot(app, a, &ops).await;
    let db_before = db::dump(app).await;

    // Listing by A's fleet shows B nothing.
    let r = app
        .get(&format!("/api/agents?fleet_id={}", a.fleet), &b.owner.token)
        .await;
    if r.status == 200 {
        assert_eq!(r.json["agents"], json!([]), "{}", r.text);
        assert_eq!(r.json["total"], 0);
    } else {
        assert_client_error(&r, "B lists A's fleet");
    }
    // B's activity log, filtered by A's agent or A's session, holds nothing of A's.
    for object in [&a.agent.id, &a.spare_session] {
        let r = app
            .get(&format!("/api/activity?object_id={object}"), &b.owner.token)
            .await
            .ok(200);
        assert_eq!(r.json, json!({"entries": [], "next_before": null}));
    }
    let r = app.get("/api/activity", &b.owner.token).await.ok(200);
    assert!(!r.text.contains(&a.agent.id) && !r.text.contains(&a.owner.id));
    // B cannot put an agent into A's fleet.
    let r = app
        .post(
            "/api/agents",
            &b.owner.token,
            &json!({ "name": "intruder", "fleet_id": a.fleet }),
        )
        .await;
    assert_client_error(&r, "B creates an agent in A's fleet");
    // B's agent token cannot report for A's agent.
    let hb = fixtures::heartbeat(&a.agent.id, "error", json!({ "cpu_usage": 99.0 }));
    app.heartbeat(&b.token, &hb).await.err(401, "unauthorized");
    // B's secret does not sign for A's agent.
    app.clock.advance(1);
    let forged = fixtures::signed(&a.agent.id, &b.agent.secret, app.now());
    app.handshake(&forged).await.err(401, "unauthorized");
    // A master-key change by B naming A's agent is refused whole.
    let wrap = fixtures::Wrap::new();
    let change = json!({
        "kdf": fixtures::kdf(600_000),
        "key_check": wrap.key_check(&b.owner.id),
        "wrapped_secrets": [
            { "agent_id": b.agent.id, "wrapped_secret": wrap.wrapped(&b.owner.id, &b.agent.id) },
            { "agent_id": a.agent.id, "wrapped_secret": wrap.wrapped(&b.owner.id, &a.agent.id) },
        ],
        "password": PASSWORD,
    });
    let r = app.put("/api/me/master-key", &b.owner.token, &change).await;
    assert_client_error(&r, "B's master-key change naming A's agent");
    // An envelope labelled for A's agent is not stored on B's.
    let doc = fixtures::config_document("relabelled");
    let env = fixtures::envelope(&a.es, &a.agent.id, 2, &doc);
    app.put(
        &format!("/api/agents/{}/config", b.agent.id),
        &b.owner.token,
        &json!({ "config": env }),
    )
    .await
    .err(422, "agent_mismatch");

    db::assert_same(&db_before, &db::dump(app).await, "B's body-borne ids");
    assert_eq!(snapshot(app, a, &ops).await, view_before);

    // B's live events never carry A's changes.
    let mut events = app
        .client
        .get(app.url("/api/events"))
        .bearer_auth(&b.owner.token)
        .send()
        .await
        .expect("event stream");
    assert_eq!(events.status(), 200);
    let doc = fixtures::config_document("a-two");
    app.put(
        &format!("/api/agents/{}/config", a.agent.id),
        &a.owner.token,
        &json!({ "config": fixtures::envelope(&a.es, &a.agent.id, 2, &doc) }),
    )
    .await
    .ok(200);
    let hb = fixtures::heartbeat(&a.agent.id, "healthy", json!({}));
    app.heartbeat(&a.token, &hb).await.ok(200);
    let hb = fixtures::heartbeat(&b.agent.id, "healthy", json!({}));
    app.heartbeat(&b.token, &hb).await.ok(200);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&b.agent.id) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("B's own event arrives")
            .expect("stream")
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!seen.contains(&a.agent.id), "B's stream carried A's agent");
}

/// Regression: B's refused DELETE of A's agent used to wipe that agent's record of used
/// signatures, so a handshake captured on the wire could be replayed for a token.
async fn a_refused_delete_keeps_the_replay_record(backend: Backend) {
    let w = World::new(backend).await;
    let app = &w.app;
    app.clock.advance(1);
    let captured = fixtures::signed(&w.a.agent.id, &w.a.agent.secret, app.now());
    app.handshake(&captured).await.ok(200);
    app.delete(&format!("/api/agents/{}", w.a.agent.id), &w.b.owner.token)
        .await
        .err(404, "not_found");
    app.handshake(&captured).await.err(401, "replayed");
}
