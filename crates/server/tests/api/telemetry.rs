//! Heartbeats are telemetry (`access::latest`): acknowledged from memory, visible to the
//! owner at once, in the database within about a second (a flush every 250 ms), flushed
//! on a graceful stop, never resurrected for a deleted agent, and counted when a stalled
//! database makes the history queue drop samples. Token checks are served from memory,
//! and a rotation still cuts the agent off at once on the same replica.

use std::time::{Duration, Instant};

use crate::common::db::Db;
use crate::common::fixtures::heartbeat;
use crate::common::{Backend, TestApp};
use serde_json::json;

both_backends!(
    acknowledged_heartbeat_is_shown_at_once_and_stored_within_a_second,
    a_graceful_stop_flushes_every_acknowledged_heartbeat,
    a_deleted_agents_buffered_heartbeats_are_not_resurrected,
    a_stalled_database_drops_history_samples_and_counts_them,
    rotation_refuses_the_old_token_on_the_same_replica_at_once,
);

async fn acknowledged_heartbeat_is_shown_at_once_and_stored_within_a_second(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let token = app.agent_token(&a).await;
    let mut db = Db::open(&app).await;
    app.clock.advance(5);
    let mut body = heartbeat(&a.id, "idle", json!({"cpu_usage": 33}));
    body["version"] = json!("2.0.0");
    app.heartbeat(&token, &body).await.ok(200);
    let acknowledged = Instant::now();

    // The owner's views show it before any flush could have run.
    let detail = app.agent_detail(&owner, &a.id).await;
    assert_eq!(detail["status"], "idle");
    assert_eq!(detail["last_seen"], app.now());
    assert_eq!(detail["metrics"], json!({"cpu_usage": 33.0}));
    assert_eq!(detail["version"], "2.0.0");
    let list = app.get("/api/agents", &owner.token).await.ok(200);
    assert_eq!(list.json["agents"][0]["status"], "idle");
    assert_eq!(list.json["agents"][0]["last_seen"], app.now());

    // The database has it within about a second: latest state and history sample.
    while db.last_seen(&a.id).await != app.now() || db.samples(&a.id).await != 1 {
        assert!(
            acknowledged.elapsed() < Duration::from_millis(1500),
            "not flushed after {:?}",
            acknowledged.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A later heartbeat that leaves the version out keeps it, in memory as in the row.
    body.as_object_mut().unwrap().remove("version");
    app.clock.advance(5);
    app.heartbeat(&token, &body).await.ok(200);
    assert_eq!(app.agent_detail(&owner, &a.id).await["version"], "2.0.0");
    app.state.flush_heartbeats().await.unwrap();
    assert_eq!(db.last_seen(&a.id).await, app.now());
    assert_eq!(app.agent_detail(&owner, &a.id).await["version"], "2.0.0");
    // The history endpoint returns the samples.
    let points = app
        .get(&format!("/api/agents/{}/metrics", a.id), &owner.token)
        .await
        .ok(200);
    let points = points.json["points"].as_array().unwrap().clone();
    assert!(!points.is_empty());
    assert!(points.iter().all(|p| p["cpu_usage"] == 33.0), "{points:?}");
}

/// Heartbeats acknowledged just before a SIGTERM-like stop are all in the database the
/// stopped server leaves, though no periodic flush had time to run.
async fn a_graceful_stop_flushes_every_acknowledged_heartbeat(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let mut agents = Vec::new();
    for i in 0..5 {
        let a = app.agent(&owner, &format!("a{i}")).await;
        let token = app.agent_token(&a).await;
        agents.push((a, token));
    }
    // Let the periodic flush pass, so what follows waits in memory.
    app.state.flush_heartbeats().await.unwrap();
    for n in 1..=4 {
        app.clock.advance(1);
        for (a, token) in &agents {
            app.heartbeat(token, &heartbeat(&a.id, "healthy", json!({ "n": n })))
                .await
                .ok(200);
        }
    }
    let last = app.now();
    app.stop().await;
    let mut db = Db::open(&app).await;
    for (a, _) in &agents {
        assert_eq!(db.last_seen(&a.id).await, last, "latest state lost");
        assert_eq!(db.samples(&a.id).await, 4, "history samples lost");
    }
}

async fn a_deleted_agents_buffered_heartbeats_are_not_resurrected(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let keep = app.agent(&owner, "keep").await;
    let token = app.agent_token(&a).await;
    let keep_token = app.agent_token(&keep).await;
    app.state.flush_heartbeats().await.unwrap();
    let key = Db::open(&app).await.key(&a.id).await;
    for _ in 0..3 {
        app.heartbeat(
            &token,
            &heartbeat(&a.id, "healthy", json!({"cpu_usage": 1})),
        )
        .await
        .ok(200);
    }
    app.heartbeat(&keep_token, &heartbeat(&keep.id, "healthy", json!({})))
        .await
        .ok(200);
    app.delete(&format!("/api/agents/{}", a.id), &owner.token)
        .await
        .ok(204);
    app.heartbeat(&token, &heartbeat(&a.id, "healthy", json!({})))
        .await
        .err(401, "unauthorized");
    app.state.flush_heartbeats().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;

    let mut db = Db::open(&app).await;
    let id = &a.id;
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM metrics_raw WHERE agent_key = {key}"
        ))
        .await,
        0,
        "a deleted agent's history came back"
    );
    assert_eq!(
        db.int(&format!("SELECT COUNT(*) FROM agents WHERE id = '{id}'"))
            .await,
        0
    );
    assert_eq!(
        db.samples(&keep.id).await,
        1,
        "the other agent's flush was lost"
    );
    app.get(&format!("/api/agents/{id}"), &owner.token)
        .await
        .err(404, "not_found");
    let list = app.get("/api/agents", &owner.token).await.ok(200);
    assert_eq!(list.json["total"], 1);
}

/// The database stalls (another connection holds the lock the flush needs): heartbeats
/// are still acknowledged, the history queue keeps at most its bound, every sample is
/// either written once the database is back or counted as dropped, and the latest state
/// is the last heartbeat's.
async fn a_stalled_database_drops_history_samples_and_counts_them(b: Backend) {
    const BOUND: usize = 20;
    const SENT: i64 = 60;
    let app = TestApp::spawn_with(b, |s| s.heartbeat_history_queue = BOUND).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let token = app.agent_token(&a).await;
    app.state.flush_heartbeats().await.unwrap();
    let dropped_before = app.state.heartbeat_samples_dropped();

    let mut blocker = Db::open(&app).await;
    match b {
        Backend::Sqlite => blocker.exec("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            blocker
                .exec("BEGIN; LOCK TABLE metrics_raw IN EXCLUSIVE MODE")
                .await
        }
    }
    for n in 1..=SENT {
        app.clock.advance(1);
        let started = Instant::now();
        app.heartbeat(&token, &heartbeat(&a.id, "healthy", json!({ "n": n })))
            .await
            .ok(200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a heartbeat waited for the stalled database"
        );
        if n == 5 {
            // A flush has begun and waits on the lock.
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }
    let dropped = (app.state.heartbeat_samples_dropped() - dropped_before) as i64;
    assert!(dropped >= SENT - 2 * BOUND as i64, "dropped {dropped}");
    blocker.exec("ROLLBACK").await;
    // (Owner requests wait for the database on SQLite: they record session use.)
    assert_eq!(
        app.agent_detail(&owner, &a.id).await["metrics"],
        json!({"n": SENT as f64}),
        "the latest state survives the drops"
    );

    app.state.flush_heartbeats().await.unwrap();
    let mut db = Db::open(&app).await;
    let written = db.samples(&a.id).await;
    let dropped = (app.state.heartbeat_samples_dropped() - dropped_before) as i64;
    assert_eq!(
        written + dropped,
        SENT,
        "written {written}, dropped {dropped}"
    );
    assert!(written <= 2 * BOUND as i64, "written {written}");
    assert_eq!(db.last_seen(&a.id).await, app.now());
}

async fn rotation_refuses_the_old_token_on_the_same_replica_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let token = app.agent_token(&a).await;
    let body = heartbeat(&a.id, "healthy", json!({}));
    // Twice: the second is answered from the cached token.
    app.heartbeat(&token, &body).await.ok(200);
    app.heartbeat(&token, &body).await.ok(200);
    app.post(
        &format!("/api/agents/{}/rotate-secret", a.id),
        &owner.token,
        &json!({}),
    )
    .await
    .ok(200);
    app.heartbeat(&token, &body).await.err(401, "unauthorized");
}
