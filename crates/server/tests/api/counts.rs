//! Agent counts kept at scale (`access::counts`), with the threshold set low
//! (`count_every_time_below`) so a test crosses it with a handful of agents: above it, the
//! agent list's status counts (owner and fleet scope) and the fleets' `agent_count` are
//! kept between requests, and after creations and deletions they become exact again
//! through the background recount; below it, another owner's counts are exact at once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{Backend, Owner, TestApp};

both_backends!(kept_counts_become_exact_after_changes);

/// Agents from which counts are kept (the default is 2 000).
const KEPT_FROM: i64 = 3;
/// Well inside the 2 s after which kept counts are recounted.
const SURELY_KEPT: Duration = Duration::from_millis(1500);

/// (agents, pending agents, fleet-scope agents, the fleet's `agent_count`) as answered.
async fn counts(app: &TestApp, o: &Owner, fleet: &str) -> (i64, i64, i64, i64) {
    let all = app.get("/api/agents?limit=1", &o.token).await.ok(200).json;
    let path = format!("/api/agents?limit=1&fleet_id={fleet}");
    let scoped = app.get(&path, &o.token).await.ok(200).json;
    let fleets = app.get("/api/fleets", &o.token).await.ok(200).json;
    let listed: Vec<&Value> = fleets["fleets"].as_array().unwrap().iter().collect();
    assert_eq!(listed.len(), 1, "{fleets}");
    let n = |v: &Value| v.as_i64().unwrap();
    (
        n(&all["counts"]["total"]),
        n(&all["counts"]["pending"]),
        n(&scoped["counts"]["total"]),
        n(&listed[0]["agent_count"]),
    )
}

async fn kept_counts_become_exact_after_changes(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.count_every_time_below = KEPT_FROM).await;
    let o = app.first_owner().await;
    let fleet = app.create_fleet(&o, "big").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let body = json!({"name": format!("a{i}"), "fleet_id": fleet});
        ids.push(app.create_agent(&o, body).await.id);
    }
    let started = Instant::now();
    assert_eq!(counts(&app, &o, &fleet).await, (4, 4, 4, 4));

    // Two more in the fleet, one deleted: 5 everywhere once recounted.
    for i in 4..6 {
        let body = json!({"name": format!("a{i}"), "fleet_id": fleet});
        app.create_agent(&o, body).await;
    }
    app.delete(&format!("/api/agents/{}", ids[0]), &o.token)
        .await
        .ok(204);
    let answered = counts(&app, &o, &fleet).await;
    if started.elapsed() < SURELY_KEPT {
        assert_eq!(
            answered,
            (4, 4, 4, 4),
            "counts above the threshold are kept"
        );
    }

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = counts(&app, &o, &fleet).await;
        if now == (5, 5, 5, 5) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kept counts never caught up: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Below the threshold nothing is kept: another owner's counts are exact at once.
    let eve = app.other_owner("eve@example.com").await;
    let small = app.create_fleet(&eve, "small").await;
    for expected in 1..=2 {
        let body = json!({"name": format!("e{expected}"), "fleet_id": small});
        app.create_agent(&eve, body).await;
        let e = expected;
        assert_eq!(counts(&app, &eve, &small).await, (e, e, e, e));
    }
}
