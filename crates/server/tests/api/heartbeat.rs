//! Heartbeats (SPEC §3): what they update, what they refuse (and that a refused one
//! stores nothing), offline detection by the clock, and the metrics history.

use serde_json::{json, Map, Value};

use crate::common::fixtures::heartbeat;
use crate::common::{Backend, TestApp};

both_backends!(
    heartbeat_updates_status_last_seen_and_metrics,
    invalid_metrics_are_refused_and_nothing_is_stored,
    silent_agent_goes_offline_after_three_intervals,
    metrics_history_returns_points,
    housekeeping_prunes_old_history,
    config_delivery_is_stored_and_shown,
);

async fn heartbeat_updates_status_last_seen_and_metrics(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app
        .create_agent(&owner, json!({"name": "a", "policy_profile": "exec"}))
        .await;
    let token = app.agent_token(&a).await;
    app.clock.advance(7);
    let mut custom = Map::new();
    for i in 0..32 {
        custom.insert(format!("plugin_{i}"), json!(i));
    }
    let mut metrics =
        json!({"cpu_usage": 12.5, "memory_usage": 40.1, "uptime_hours": 71, "latency_ms": 8});
    metrics.as_object_mut().unwrap().extend(custom);
    let mut body = heartbeat(&a.id, "idle", metrics.clone());
    body["version"] = json!("1.2.3");
    body["config_version_applied"] = json!(0);
    body["machine_id"] = json!("m-1");
    let r = app.heartbeat(&token, &body).await.ok(200);
    assert_eq!(r.json["message"], "Heartbeat received");
    assert_eq!(r.json["status"], "idle");
    assert_eq!(r.json["heartbeat_interval"], 60);
    assert_eq!(r.json["policy"]["name"], "exec");
    assert_eq!(r.json["config_version"], 0);

    let detail = app.agent_detail(&owner, &a.id).await;
    assert_eq!(detail["status"], "idle");
    assert_eq!(detail["last_seen"], app.now());
    assert_eq!(detail["version"], "1.2.3");
    assert_eq!(detail["config_version_applied"], 0);
    let stored = detail["metrics"].as_object().unwrap();
    assert_eq!(
        stored.len(),
        36,
        "every metric, custom ones included, is kept"
    );
    for (k, v) in metrics.as_object().unwrap() {
        assert_eq!(stored[k].as_f64(), v.as_f64(), "{k}");
    }

    app.clock.advance(10);
    let mut body = heartbeat(&a.id, "error", json!({"cpu_usage": 99}));
    body["error"] = json!("config_rejected");
    app.heartbeat(&token, &body).await.ok(200);
    let detail = app.agent_detail(&owner, &a.id).await;
    assert_eq!(detail["status"], "error");
    assert_eq!(detail["error"], "config_rejected");
    assert_eq!(detail["last_seen"], app.now());
    assert_eq!(detail["metrics"], json!({"cpu_usage": 99.0}));
    assert_eq!(detail["version"], "1.2.3", "kept when not re-sent");
}

async fn invalid_metrics_are_refused_and_nothing_is_stored(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let token = app.agent_token(&a).await;
    app.heartbeat(
        &token,
        &heartbeat(&a.id, "healthy", json!({"cpu_usage": 10})),
    )
    .await
    .ok(200);
    let before = app.agent_detail(&owner, &a.id).await;
    let history = format!("/api/agents/{}/metrics", a.id);
    let history_before = app.get(&history, &owner.token).await.ok(200).json;

    let mut too_many = Map::new();
    for i in 0..33 {
        too_many.insert(format!("plugin_{i}"), json!(1));
    }
    let bad_metrics = [
        json!({"cpu_usage": "high"}),
        json!({"cpu_usage": true}),
        json!({"cpu_usage": null}),
        json!({"cpu_usage": [1]}),
        json!({"latency_ms": -1}),
        json!({"cpu_usage": 100.5}),
        json!({"disk_usage": 101}),
        json!({"gpu_percent": 150}),
        json!({"Bad-Name": 1}),
        Value::Object(too_many),
        json!([1, 2]),
        json!("cpu"),
    ];
    for m in bad_metrics {
        app.clock.advance(1);
        let r = app
            .heartbeat(&token, &heartbeat(&a.id, "healthy", m.clone()))
            .await;
        assert_eq!(r.status.as_u16(), 400, "{m} → {}", r.text);
        r.err(400, "invalid_request");
    }
    let bad_bodies = [
        json!({"agent_id": a.id, "status": "sleeping", "metrics": {}}),
        json!({"agent_id": a.id, "metrics": {}}),
        json!({"status": "healthy", "metrics": {}}),
        json!({"agent_id": a.id, "status": "healthy", "error": "x".repeat(201)}),
        json!({"agent_id": a.id, "status": "healthy", "error": "line\nbreak"}),
        json!({"agent_id": a.id, "status": "healthy", "config_version_applied": -1}),
        json!({"agent_id": a.id, "status": "healthy", "version": 3}),
    ];
    for body in bad_bodies {
        app.clock.advance(1);
        app.heartbeat(&token, &body)
            .await
            .err(400, "invalid_request");
    }
    let after = app.agent_detail(&owner, &a.id).await;
    assert_eq!(after, before, "a refused heartbeat changed the agent");
    let history_after = app.get(&history, &owner.token).await.ok(200).json;
    assert_eq!(history_after, history_before);
    // Exactly 100 percent is fine.
    app.heartbeat(
        &token,
        &heartbeat(&a.id, "healthy", json!({"cpu_usage": 100})),
    )
    .await
    .ok(200);
    assert_eq!(
        app.agent_detail(&owner, &a.id).await["last_seen"],
        app.now()
    );
}

async fn silent_agent_goes_offline_after_three_intervals(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app
        .create_agent(&owner, json!({"name": "a", "policy_profile": "ops"}))
        .await;
    assert_eq!(app.agent_detail(&owner, &a.id).await["status"], "pending");
    let token = app.agent_token(&a).await;
    app.heartbeat(&token, &heartbeat(&a.id, "healthy", json!({})))
        .await
        .ok(200);
    let seen = app.now();
    // ops: 15 s interval, so offline after 45 s of silence.
    app.clock.advance(44);
    assert_eq!(app.agent_detail(&owner, &a.id).await["status"], "healthy");
    app.clock.advance(2);
    let detail = app.agent_detail(&owner, &a.id).await;
    assert_eq!(detail["status"], "offline");
    assert_eq!(detail["last_seen"], seen);
    // The list filters on the stored status: what the offline sweep writes within a second.
    app.state.sweep_offline().await.expect("sweep");
    let list = app
        .get("/api/agents?status=offline", &owner.token)
        .await
        .ok(200);
    assert_eq!(list.json["agents"][0]["id"], a.id.as_str());
    assert_eq!(list.json["agents"][0]["status"], "offline");
    // One heartbeat brings it back.
    app.heartbeat(&token, &heartbeat(&a.id, "healthy", json!({})))
        .await
        .ok(200);
    assert_eq!(app.agent_detail(&owner, &a.id).await["status"], "healthy");
}

async fn metrics_history_returns_points(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let token = app.agent_token(&a).await;
    let start = app.now();
    for cpu in [10, 20, 30] {
        let m = json!({"cpu_usage": cpu, "memory_usage": cpu * 2, "disk_usage": 50, "latency_ms": cpu / 10});
        app.heartbeat(&token, &heartbeat(&a.id, "healthy", m))
            .await
            .ok(200);
        app.clock.advance(30);
    }
    let r = app
        .get(
            &format!("/api/agents/{}/metrics?since={}", a.id, start - 5),
            &owner.token,
        )
        .await
        .ok(200);
    let points = r.json["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "{}", r.text);
    let cpu: Vec<f64> = points
        .iter()
        .map(|p| p["cpu_usage"].as_f64().unwrap())
        .collect();
    assert_eq!(cpu, [10.0, 20.0, 30.0]);
    let mem: Vec<f64> = points
        .iter()
        .map(|p| p["memory_usage"].as_f64().unwrap())
        .collect();
    assert_eq!(mem, [20.0, 40.0, 60.0]);
    assert!(points.iter().all(|p| p["disk_usage"] == 50.0));
    let ts: Vec<i64> = points.iter().map(|p| p["ts"].as_i64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
    assert!(ts[0] <= start && start - ts[0] < 30, "{ts:?} vs {start}");
    // `since` excludes older points; the default is the last hour.
    let recent = app
        .get(
            &format!("/api/agents/{}/metrics?since={}", a.id, start + 31),
            &owner.token,
        )
        .await
        .ok(200);
    assert_eq!(recent.json["points"].as_array().unwrap().len(), 1);
    let default = app
        .get(&format!("/api/agents/{}/metrics", a.id), &owner.token)
        .await
        .ok(200);
    assert_eq!(default.json["points"].as_array().unwrap().len(), 3);
    app.clock.advance(3600);
    let later = app
        .get(&format!("/api/agents/{}/metrics", a.id), &owner.token)
        .await
        .ok(200);
    assert_eq!(later.json["points"], json!([]));
    app.get(
        &format!("/api/agents/{}/metrics?since=yesterday", a.id),
        &owner.token,
    )
    .await
    .err(400, "invalid_request");
}

async fn housekeeping_prunes_old_history(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.heartbeat_retention_days = 1;
        s.session_ttl_secs = 7 * 86400;
    })
    .await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let first = app.now();
    let token = app.agent_token(&a).await;
    app.heartbeat(
        &token,
        &heartbeat(&a.id, "healthy", json!({"cpu_usage": 1})),
    )
    .await
    .ok(200);
    app.clock.advance(86400 - 60);
    let token = app.agent_token(&a).await;
    app.heartbeat(
        &token,
        &heartbeat(&a.id, "healthy", json!({"cpu_usage": 2})),
    )
    .await
    .ok(200);
    let history = format!("/api/agents/{}/metrics?since={first}", a.id);
    let cpu = |v: &Value| -> Vec<f64> {
        v["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["cpu_usage"].as_f64().unwrap())
            .collect()
    };
    let before = app.get(&history, &owner.token).await.ok(200).json;
    assert_eq!(cpu(&before), [1.0, 2.0], "{before}");

    // Past a day after the first heartbeat, housekeeping removes it, keeps the second.
    app.clock.advance(61);
    app.state.maintain().await.expect("housekeeping");
    let after = app.get(&history, &owner.token).await.ok(200).json;
    assert_eq!(cpu(&after), [2.0], "{after}");
}

/// The optional `config_delivery` field (docs/security.md, "Readings of the SPEC"): a
/// monitor-only agent says `not_set_up`, the owner sees it until the agent says otherwise,
/// an agent that does not send it shows null, and an unknown value is ignored like an
/// unknown field rather than refusing the heartbeat.
async fn config_delivery_is_stored_and_shown(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let token = app.agent_token(&a).await;
    let detail = app.agent_detail(&owner, &a.id).await;
    assert!(detail["config_delivery"].is_null(), "{detail}");

    let mut body = heartbeat(&a.id, "healthy", json!({"cpu_usage": 1}));
    body["config_delivery"] = json!("not_set_up");
    app.heartbeat(&token, &body).await.ok(200);
    assert_eq!(
        app.agent_detail(&owner, &a.id).await["config_delivery"],
        "not_set_up"
    );
    let list = app.get("/api/agents", &owner.token).await.ok(200);
    assert_eq!(list.json["agents"][0]["config_delivery"], "not_set_up");

    body["config_delivery"] = json!("ready");
    app.heartbeat(&token, &body).await.ok(200);
    assert_eq!(
        app.agent_detail(&owner, &a.id).await["config_delivery"],
        "ready"
    );

    body["config_delivery"] = json!("from_a_newer_agent");
    app.heartbeat(&token, &body).await.ok(200);
    body.as_object_mut().unwrap().remove("config_delivery");
    app.heartbeat(&token, &body).await.ok(200);
    assert!(app.agent_detail(&owner, &a.id).await["config_delivery"].is_null());

    body["config_delivery"] = json!(["not", "a", "string"]);
    app.heartbeat(&token, &body)
        .await
        .err(400, "invalid_request");
}
