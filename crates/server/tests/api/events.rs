//! Live updates (`GET /api/events`): an owner's stream carries changes to their own
//! agents — creation, heartbeats, deletion — and never another owner's.

use std::time::Duration;

use serde_json::json;

use crate::common::fixtures::heartbeat;
use crate::common::{Backend, TestApp, ANON};

both_backends!(
    events_carry_own_changes_only,
    stream_ends_with_its_session,
    stream_ends_when_the_session_expires,
    going_offline_is_announced,
);

/// An open event stream and what it has delivered so far.
pub struct Events {
    res: reqwest::Response,
    seen: String,
}

impl Events {
    pub async fn open(app: &TestApp, token: &str) -> Self {
        let res = app
            .build(reqwest::Method::GET, "/api/events", token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Self {
            res,
            seen: String::new(),
        }
    }

    /// The open stream, for a test that reads it its own way.
    pub fn into_response(self) -> reqwest::Response {
        self.res
    }

    /// Reads until the server ends the stream; returns everything delivered.
    pub async fn until_closed(&mut self) -> &str {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .unwrap_or_else(|_| panic!("the stream stayed open: {:?}", self.seen));
            match chunk {
                Ok(Some(bytes)) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) | Err(_) => return &self.seen,
            }
        }
    }

    /// Reads until `needle` has been delivered; returns everything delivered so far.
    pub async fn until(&mut self, needle: &str) -> &str {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.seen.contains(needle) {
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in {:?}", self.seen))
                .unwrap()
                .expect("stream open");
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        &self.seen
    }
}

async fn events_carry_own_changes_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.first_owner().await;
    let mallory = app.other_owner("mallory@example.com").await;
    app.get("/api/events", ANON).await.err(401, "unauthorized");
    let mut hers = Events::open(&app, &alice.token).await;
    let mut his = Events::open(&app, &mallory.token).await;

    let agent = app.agent(&alice, "a").await;
    hers.until(&agent.id).await;
    let token = app.agent_token(&agent).await;
    app.heartbeat(
        &token,
        &heartbeat(&agent.id, "idle", json!({"cpu_usage": 1})),
    )
    .await
    .ok(200);
    let seen = hers.until("\"status\":\"idle\"").await;
    assert!(seen.contains("event: agent\n"), "{seen}");
    app.delete(&format!("/api/agents/{}", agent.id), &alice.token)
        .await
        .ok(204);
    let seen = hers.until("event: agent_deleted").await;
    assert!(!seen.contains("agent_secret") && !seen.contains(&agent.secret));

    // Mallory's own change arrives after all of Alice's: none of hers came before it.
    let own = app.agent(&mallory, "m").await;
    let seen = his.until(&own.id).await;
    assert!(
        !seen.contains(&agent.id),
        "another owner's agent leaked: {seen}"
    );
}

async fn stream_ends_with_its_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "a").await;
    let token = app.agent_token(&agent).await;
    let second = app
        .login(&owner.email, crate::common::PASSWORD)
        .await
        .ok(200);
    let stolen = second.json["token"].as_str().unwrap().to_string();
    let mut events = Events::open(&app, &stolen).await;
    app.heartbeat(&token, &heartbeat(&agent.id, "healthy", json!({})))
        .await
        .ok(200);
    events.until("\"status\":\"healthy\"").await;

    // The owner ends that session: its stream must not deliver one more change.
    app.post("/api/auth/logout", &stolen, &json!({}))
        .await
        .ok(204);
    app.heartbeat(&token, &heartbeat(&agent.id, "error", json!({})))
        .await
        .ok(200);
    let seen = events.until_closed().await;
    assert!(
        !seen.contains("\"status\":\"error\""),
        "delivered after logout: {seen}"
    );
}

async fn stream_ends_when_the_session_expires(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.session_ttl_secs = 600).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "a").await;
    let mut events = Events::open(&app, &owner.token).await;
    app.clock.advance(600);
    let token = app.agent_token(&agent).await;
    app.heartbeat(&token, &heartbeat(&agent.id, "idle", json!({})))
        .await
        .ok(200);
    let seen = events.until_closed().await;
    assert!(
        !seen.contains("\"status\":\"idle\""),
        "delivered after expiry: {seen}"
    );
}

async fn going_offline_is_announced(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "a").await;
    let token = app.agent_token(&agent).await;
    app.heartbeat(&token, &heartbeat(&agent.id, "healthy", json!({})))
        .await
        .ok(200);
    let mut events = Events::open(&app, &owner.token).await;
    app.clock.advance(91);
    // What the background sweep does within a second (whichever of the two gets there
    // first marks and announces it).
    app.state.sweep_offline().await.expect("sweep");
    events.until("\"status\":\"offline\"").await;
}
