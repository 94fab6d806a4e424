//! Two replicas writing overlapping agents at once (issue 8 item 6): each replica's
//! group-commit batch locks many agent rows in one transaction; unless every batch takes
//! them in the same order, two batches deadlock and PostgreSQL aborts one (its callers
//! get 503). Heartbeats and handshakes for the same agents flood both replicas; not one
//! answer may be a 5xx, and on PostgreSQL the database reports no deadlock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::fixtures::{heartbeat, signed};
use crate::common::{Backend, TestApp};

both_backends!(overlapping_batches_on_two_replicas_never_deadlock);

const AGENTS: usize = 12;
const WORKERS_PER_REPLICA: usize = 8;

async fn overlapping_batches_on_two_replicas_never_deadlock(b: Backend) {
    let one = TestApp::spawn(b).await;
    let two = one.replica().await;
    let owner = one.first_owner().await;
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let agent = one.agent(&owner, &format!("a{i}")).await;
        let token = one.agent_token(&agent).await;
        agents.push((agent, token));
    }
    let deadlocks_before = deadlocks(&one).await;
    let agents = Arc::new(agents);
    let apps = Arc::new([one, two]);
    // Distinct timestamps inside the window, so every handshake signature is new.
    let next_ts = Arc::new(AtomicI64::new(0));
    let until = Instant::now() + Duration::from_secs(4);
    let mut tasks = Vec::new();
    for worker in 0..2 * WORKERS_PER_REPLICA {
        let (apps, agents, next_ts) = (apps.clone(), agents.clone(), next_ts.clone());
        tasks.push(tokio::spawn(async move {
            let app = &apps[worker % 2];
            let (mut beats, mut shakes) = (0u32, 0u32);
            let mut i = worker * 7;
            while Instant::now() < until {
                // Each worker walks the agents in its own order.
                let (agent, token) = &agents[(i * (worker + 1)) % AGENTS];
                let r = if i % 5 == 0 {
                    let ts = apps[0].now() - 55 + next_ts.fetch_add(1, Ordering::Relaxed) % 110;
                    shakes += 1;
                    app.handshake(&signed(&agent.id, &agent.secret, ts)).await
                } else {
                    beats += 1;
                    let hb = heartbeat(&agent.id, "healthy", json!({"cpu_usage": i % 100}));
                    app.heartbeat(token, &hb).await
                };
                // A handshake may collide with one of the same second and agent; that
                // is `replayed` (401), never a server error.
                assert!(
                    r.status.as_u16() < 500,
                    "replica {} answered {}: {}",
                    worker % 2,
                    r.status,
                    r.text
                );
                i += 1;
            }
            (beats, shakes)
        }));
    }
    let (mut beats, mut shakes) = (0, 0);
    for task in tasks {
        let (b, s) = task.await.expect("worker");
        beats += b;
        shakes += s;
    }
    assert!(
        beats > 100 && shakes > 20,
        "{beats} heartbeats, {shakes} handshakes"
    );
    assert_eq!(
        deadlocks(&apps[0]).await,
        deadlocks_before,
        "deadlocks reported"
    );
}

/// PostgreSQL's count of deadlocks detected in this test's database (0 on SQLite).
async fn deadlocks(app: &TestApp) -> i64 {
    let Some(url) = app.settings().database_url.clone() else {
        return 0;
    };
    use sqlx::Connection;
    // The statistics reach the shared counters within about a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_database");
    let _ = conn.close().await;
    n
}
