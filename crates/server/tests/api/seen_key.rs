//! The coarse last-seen key (migrations 0017 and 0018): a heartbeat flush moves an agent's
//! indexed `seen_key` only when its status changes or `last_seen` ran a drawn step of
//! 60–180 s past it. The offline sweep must still mark an agent on its exact deadline (not
//! the key's, which is earlier), and a list sorted by last seen must page every agent once
//! while heartbeats arrive.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::common::db::Db;
use crate::common::fixtures::ids;
use crate::common::{fixtures, Agent, Backend, Owner, TestApp};

both_backends!(
    offline_on_the_exact_deadline_though_the_key_lags,
    last_seen_pages_hold_while_heartbeats_arrive,
    one_flush_keeps_some_keys_and_moves_others,
    the_key_moves_once_its_step_has_run,
);

async fn beat(app: &TestApp, token: &str, agent: &Agent) {
    app.heartbeat(token, &fixtures::heartbeat(&agent.id, "healthy", json!({})))
        .await
        .ok(200);
}

async fn offline_ids(app: &TestApp, o: &Owner) -> Vec<String> {
    ids(&app
        .get("/api/agents?status=offline", &o.token)
        .await
        .ok(200)
        .json)
}

async fn offline_on_the_exact_deadline_though_the_key_lags(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "lagging").await; // dev: 30 s interval, offline after 90 s
    let _never_seen = app.agent(&o, "never-seen").await;
    let token = app.agent_token(&a).await;
    let t0 = app.now();
    beat(&app, &token, &a).await;
    app.state.flush_heartbeats().await.expect("flush");
    // 40 s < 60 s (the least step): this heartbeat leaves the key at t0.
    app.clock.advance(40);
    beat(&app, &token, &a).await;
    app.state.flush_heartbeats().await.expect("flush");

    // The key did lag: the last_seen sort's cursor holds t0, the row shows t0 + 40.
    let first = app
        .get("/api/agents?sort=-last_seen&limit=1", &o.token)
        .await
        .ok(200)
        .json;
    assert_eq!(ids(&first), std::slice::from_ref(&a.id));
    assert_eq!(first["agents"][0]["last_seen"], t0 + 40, "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let cursor: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).expect("base64")).expect("json");
    assert_eq!(
        cursor["k"], t0,
        "the key moved on a heartbeat within its step"
    );

    // Past the key's deadline (t0 + 90), before the exact one (t0 + 130): not offline.
    app.clock.advance(55);
    app.state.sweep_offline().await.expect("sweep");
    assert!(offline_ids(&app, &o).await.is_empty());
    let detail = app.agent_detail(&o, &a.id).await;
    assert_eq!(detail["status"], "healthy", "{detail}");

    // Past the exact deadline: offline at the next sweep.
    app.clock.advance(36);
    app.state.sweep_offline().await.expect("sweep");
    assert_eq!(offline_ids(&app, &o).await, std::slice::from_ref(&a.id));

    // A heartbeat after it brings it back, with its key moved (a status change).
    beat(&app, &token, &a).await;
    app.state.flush_heartbeats().await.expect("flush");
    assert!(offline_ids(&app, &o).await.is_empty());
    let page = app
        .get("/api/agents?sort=-last_seen&limit=1", &o.token)
        .await
        .ok(200)
        .json;
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let cursor: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).expect("base64")).expect("json");
    assert_eq!(cursor["k"], app.now(), "{page}");
}

async fn last_seen_pages_hold_while_heartbeats_arrive(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let mut agents = Vec::new();
    for i in 0..12 {
        let a = app.agent(&o, &format!("a{i:02}")).await;
        let token = app.agent_token(&a).await;
        beat(&app, &token, &a).await;
        app.clock.advance(1);
        agents.push((a, token));
    }
    app.state.flush_heartbeats().await.expect("flush");
    // Newest first: a11 … a00.
    let expected: Vec<String> = agents.iter().rev().map(|(a, _)| a.id.clone()).collect();

    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for n in 0.. {
        let path = match &cursor {
            Some(c) => format!("/api/agents?sort=-last_seen&limit=3&cursor={c}"),
            None => "/api/agents?sort=-last_seen&limit=3".to_string(),
        };
        let page = app.get(&path, &o.token).await.ok(200).json;
        listed.extend(ids(&page));
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
        assert!(n < 20, "paging does not end");
        // Every agent heartbeats again, oldest last (exact last_seen now reverses the
        // order of some): within 60 s of their keys, so no key moves.
        app.clock.advance(1);
        for (a, token) in agents.iter().rev() {
            beat(&app, token, a).await;
        }
        app.state.flush_heartbeats().await.expect("flush");
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in &listed {
        *seen.entry(id.as_str()).or_default() += 1;
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "an agent appeared twice: {listed:?}"
    );
    assert_eq!(listed, expected, "an agent skipped or out of order");
}

/// One flush (one statement a chunk on PostgreSQL) holding an agent whose key stays, one
/// whose status changes, one heartbeating for the first time and one deleted (behind the
/// server's back) between its heartbeat and the flush: each row as the rules say, the
/// deleted agent's heartbeat skipped without an error, and one history sample an agent and
/// second (the first).
async fn one_flush_keeps_some_keys_and_moves_others(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let mut agents = Vec::new();
    for name in ["stays", "changes", "first", "deleted"] {
        let a = app.agent(&o, name).await;
        let token = app.agent_token(&a).await;
        agents.push((a, token));
    }
    let [(stays, t_stays), (changes, t_changes), (first, t_first), (deleted, t_deleted)] =
        &agents[..]
    else {
        unreachable!()
    };
    let t0 = app.now();
    beat(&app, t_stays, stays).await;
    beat(&app, t_changes, changes).await;
    app.state.flush_heartbeats().await.expect("flush");
    let mut db = Db::open(&app).await;
    let deleted_key = db.key(&deleted.id).await;

    app.clock.advance(10); // within the least step (60 s) of t0
    for cpu in [7, 8, 9] {
        let body = fixtures::heartbeat(&stays.id, "healthy", json!({ "cpu_usage": cpu }));
        app.heartbeat(t_stays, &body).await.ok(200);
    }
    let mut body = fixtures::heartbeat(&changes.id, "error", json!({}));
    body["error"] = json!("config_rejected");
    app.heartbeat(t_changes, &body).await.ok(200);
    beat(&app, t_first, first).await;
    beat(&app, t_deleted, deleted).await;
    db.exec(&format!("DELETE FROM agents WHERE id = '{}'", deleted.id))
        .await;
    app.state.flush_heartbeats().await.expect("flush");

    let t1 = t0 + 10;
    // (last_seen, seen_key, status) as stored.
    assert_eq!(stored(&mut db, stays).await, (t1, t0, 1), "stays");
    assert_eq!(stored(&mut db, changes).await, (t1, t1, 2), "changes");
    assert_eq!(stored(&mut db, first).await, (t1, t1, 1), "first");
    let gone = format!("SELECT COUNT(*) FROM agents WHERE id = '{}'", deleted.id);
    assert_eq!(db.int(&gone).await, 0);
    let history = format!("SELECT COUNT(*) FROM metrics_raw WHERE agent_key = {deleted_key}");
    assert_eq!(db.int(&history).await, 0, "the deleted agent's sample");
    assert_eq!(db.samples(&stays.id).await, 2, "one sample a second");
    assert_eq!(db.samples(&changes.id).await, 2);
    assert_eq!(db.samples(&first.id).await, 1);
    let kept = format!(
        "SELECT CAST(r.cpu_usage AS BIGINT) FROM metrics_raw r \
         JOIN metrics_keys k ON k.agent_key = r.agent_key \
         WHERE k.agent_id = '{}' AND r.ts = {t1}",
        stays.id
    );
    assert_eq!(db.int(&kept).await, 7, "the second's first sample is kept");
}

/// The step, both ways (drawn from 60..180 s an agent and flush): a healthy agent
/// heartbeating every 30 s (its interval) keeps its key for 59 s past it, across an
/// interval the old rule (1.5 intervals, 45 s) moved it on; after that the key is always
/// one of its heartbeats' times and never 180 s or more behind `last_seen`. The sweep never
/// marks it offline meanwhile, though its key is more than 3 intervals (90 s) old at times.
async fn the_key_moves_once_its_step_has_run(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "steady").await; // dev: 30 s interval
    let token = app.agent_token(&a).await;
    let mut db = Db::open(&app).await;
    let t0 = app.now();
    beat(&app, &token, &a).await;
    app.state.flush_heartbeats().await.expect("flush");
    for step in [30, 29] {
        app.clock.advance(step);
        beat(&app, &token, &a).await;
        app.state.sweep_offline().await.expect("sweep");
        let now = app.now();
        assert_eq!(
            stored(&mut db, &a).await,
            (now, t0, 1),
            "{} s past",
            now - t0
        );
    }
    let mut beats = vec![t0, t0 + 30, t0 + 59];
    for _ in 0..8 {
        app.clock.advance(30);
        beat(&app, &token, &a).await;
        app.state.sweep_offline().await.expect("sweep");
        let now = app.now();
        beats.push(now);
        let (seen, key, status) = stored(&mut db, &a).await;
        assert_eq!((seen, status), (now, 1));
        assert!(beats.contains(&key), "key {key} is no heartbeat's time");
        assert!(seen - key < 180, "the key lags {} s", seen - key);
    }
    assert!(offline_ids(&app, &o).await.is_empty());
}

/// `(last_seen, seen_key, status)` of `a`'s row; the status as 1 (healthy), 2 (error) or 0.
async fn stored(db: &mut Db, a: &Agent) -> (i64, i64, i64) {
    let col = |c: &str| format!("SELECT {c} FROM agents WHERE id = '{}'", a.id);
    (
        db.int(&col("last_seen")).await,
        db.int(&col("seen_key")).await,
        db.int(&col(
            "CAST(CASE status WHEN 'healthy' THEN 1 WHEN 'error' THEN 2 ELSE 0 END AS BIGINT)",
        ))
        .await,
    )
}
