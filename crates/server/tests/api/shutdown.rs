//! Restarts without an outage: a draining server turns unready, ends its event streams
//! with a `retry:` hint, answers waiting long-polls at once with "no change", finishes
//! what is in flight, loses nothing it acknowledged, and a stuck client cannot hold its
//! exit past the drain time.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::fixtures::heartbeat;
use crate::common::{Backend, TestApp, ANON};
use crate::events::Events;

both_backends!(
    draining_ends_streams_and_answers_long_polls,
    acknowledged_heartbeats_survive_a_restart,
    a_stuck_request_cannot_hold_the_exit,
);

/// Nothing newer exists, so each of these polls would wait its full minute.
fn long_poll(app: &TestApp, agent_id: &str, token: &str) -> tokio::task::JoinHandle<(u16, String)> {
    let request = app.build(
        reqwest::Method::GET,
        &format!("/api/agents/{agent_id}/config?after_version=0&wait=60"),
        token,
    );
    tokio::spawn(async move {
        let res = request.send().await.expect("the poll is answered");
        (res.status().as_u16(), res.text().await.unwrap_or_default())
    })
}

async fn draining_ends_streams_and_answers_long_polls(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "a").await;
    let token = app.agent_token(&agent).await;
    app.get("/readyz", ANON).await.ok(200);
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(Events::open(&app, &owner.token).await);
    }
    let polls: Vec<_> = (0..10)
        .map(|_| long_poll(&app, &agent.id, &token))
        .collect();
    // A poll answered before the drain would prove nothing.
    let mut first = long_poll(&app, &agent.id, &token);
    assert!(
        tokio::time::timeout(Duration::from_millis(1200), &mut first)
            .await
            .is_err()
    );

    let drained = Instant::now();
    app.state.begin_drain();
    for mut events in streams {
        let seen = events.until_closed().await.to_string();
        assert!(seen.contains("retry: 1000\n"), "no retry hint: {seen:?}");
    }
    for poll in polls.into_iter().chain([first]) {
        let (status, body) = tokio::time::timeout(Duration::from_secs(10), poll)
            .await
            .expect("answered at once, not after its minute")
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer, json!({"config": null, "config_version": 0}));
    }
    assert!(
        drained.elapsed() < Duration::from_secs(5),
        "{:?}",
        drained.elapsed()
    );

    // While draining: unready, and a new stream or poll does not wait either.
    let r = app.get("/readyz", ANON).await.ok(503);
    assert_eq!(r.json["status"], "draining");
    let seen = Events::open(&app, &owner.token)
        .await
        .until_closed()
        .await
        .to_string();
    assert!(seen.contains("retry: 1000\n"), "{seen:?}");
    let started = Instant::now();
    assert_eq!(long_poll(&app, &agent.id, &token).await.unwrap().0, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    // Requests still get answers while the server drains.
    app.heartbeat(&token, &heartbeat(&agent.id, "healthy", json!({})))
        .await
        .ok(200);
}

/// Agents send heartbeats back to back while the server stops; every heartbeat that
/// was answered 200 is in the database that the next server reads.
async fn acknowledged_heartbeats_survive_a_restart(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let mut senders = Vec::new();
    let (flowing, mut flows) = tokio::sync::mpsc::channel::<()>(4);
    for i in 0..4 {
        let agent = app.agent(&owner, &format!("a{i}")).await;
        let token = app.agent_token(&agent).await;
        let (url, client, flowing) = (
            app.url("/api/heartbeat"),
            app.client.clone(),
            flowing.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut acknowledged = 0u64;
            for seq in 1u64.. {
                let body = heartbeat(&agent.id, "healthy", json!({ "seq": seq }));
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => acknowledged = seq,
                    _ => break,
                }
                if seq == 3 {
                    let _ = flowing.send(()).await;
                }
            }
            (agent.id, acknowledged)
        }));
    }
    // Stop while all of them are sending.
    for _ in 0..4 {
        tokio::time::timeout(Duration::from_secs(20), flows.recv())
            .await
            .expect("heartbeats flow");
    }
    let took = app.stop().await;
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let mut acknowledged = Vec::new();
    for s in senders {
        acknowledged.push(s.await.unwrap());
    }

    let app = app.restart().await;
    for (id, seq) in acknowledged {
        assert!(seq >= 3);
        let detail = app.agent_detail(&owner, &id).await;
        let stored = detail["metrics"]["seq"].as_f64().unwrap() as u64;
        assert!(
            stored >= seq,
            "heartbeat {seq} was acknowledged, the database holds {stored}"
        );
    }
}

/// A client that sent half a request keeps its connection in flight; the server waits
/// for it only `shutdown_drain_secs`, then closes it and exits anyway.
async fn a_stuck_request_cannot_hold_the_exit(b: Backend) {
    let mut app = TestApp::spawn_with(b, |s| s.shutdown_drain_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stuck = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stuck
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: fleet\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    // `100 Continue` comes once the handler reads the body: the request is in flight.
    let mut buf = [0u8; 256];
    let n = stuck.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"));
    stuck.write_all(b"{\"email\":").await.unwrap();

    let took = app.stop().await;
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(4),
        "the stop took {took:?} with a 1 s drain"
    );
    // What was left is closed by the process's end; here the runtime outlives the
    // server, so the connection task is still there, but the server no longer listens.
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
}
