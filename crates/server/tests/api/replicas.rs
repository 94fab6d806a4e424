//! Several replicas on one database (SPEC §2–3): used signatures, sessions and token
//! revocations are shared through the database, and a config saved through one
//! replica reaches an agent long-polling another within about a second. On PostgreSQL
//! the replicas also tell each other at once (`LISTEN/NOTIFY`): live events, config
//! wake-ups and revocations cross between them well under a second, and a listener that
//! lost its connection re-reads when it is back.

use std::time::{Duration, Instant};

use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::json;

use crate::common::fixtures::{config_document, envelope, heartbeat, signed};
use crate::common::{skip_postgres, Backend, TestApp};
use crate::events::Events;

both_backends!(
    replicas_share_signatures_sessions_and_revocations,
    replicas_share_config_saves
);

async fn replicas_share_signatures_sessions_and_revocations(b: Backend) {
    let one = TestApp::spawn(b).await;
    let two = one.replica().await;
    let owner = one.first_owner().await;
    let agent = one.agent(&owner, "a").await;
    let other = two.agent(&owner, "b").await;
    two.get(&format!("/api/agents/{}", agent.id), &owner.token)
        .await
        .ok(200);

    let body = signed(&agent.id, &agent.secret, one.now());
    let token = one.handshake(&body).await.ok(200).json["token"]
        .as_str()
        .unwrap()
        .to_string();
    two.handshake(&body).await.err(401, "replayed");
    let hb = heartbeat(&agent.id, "healthy", json!({}));
    two.heartbeat(&token, &hb).await.ok(200);

    // Rotation through one replica revokes on the other within SPEC §3's 10 s.
    two.post(
        &format!("/api/agents/{}/rotate-secret", agent.id),
        &owner.token,
        &json!({}),
    )
    .await
    .ok(200);
    revoked_within_10s(&one, &token, &hb).await;
    two.heartbeat(&token, &hb).await.err(401, "unauthorized");

    // So does deletion.
    let other_token = one.agent_token(&other).await;
    one.heartbeat(&other_token, &heartbeat(&other.id, "idle", json!({})))
        .await
        .ok(200);
    two.delete(&format!("/api/agents/{}", other.id), &owner.token)
        .await
        .ok(204);
    revoked_within_10s(&one, &other_token, &heartbeat(&other.id, "idle", json!({}))).await;

    // Logging out on one replica ends the session on both.
    two.post("/api/auth/logout", &owner.token, &json!({}))
        .await
        .ok(204);
    one.get("/api/me", &owner.token)
        .await
        .err(401, "unauthorized");
}

/// SPEC §3: a revoked token stops working "on every replica within 10 s". A replica
/// may cache token lookups for a few seconds, so this polls (in real time: the bound
/// is wall-clock) instead of expecting the very next request to fail.
async fn revoked_within_10s(app: &TestApp, token: &str, body: &serde_json::Value) {
    let start = Instant::now();
    loop {
        let r = app.heartbeat(token, body).await;
        if r.status == 401 {
            r.err(401, "unauthorized");
            return;
        }
        r.ok(200);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "token still works after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn replicas_share_config_saves(b: Backend) {
    let one = TestApp::spawn(b).await;
    let two = one.replica().await;
    let owner = one.first_owner().await;
    let agent = one.agent(&owner, "a").await;
    let token = one.agent_token(&agent).await;
    let path = format!("/api/agents/{}/config?after_version=0&wait=30", agent.id);
    let mut waiting = tokio::spawn(one.build(reqwest::Method::GET, &path, &token).send());
    assert!(
        tokio::time::timeout(Duration::from_millis(1200), &mut waiting)
            .await
            .is_err()
    );

    let es = EncryptionSecret::generate();
    let env = envelope(&es, &agent.id, 1, &config_document("replica"));
    two.put(
        &format!("/api/agents/{}/config", agent.id),
        &owner.token,
        &json!({"config": env}),
    )
    .await
    .ok(200);
    let saved = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the long-poll answers a save made through another replica")
        .unwrap()
        .unwrap();
    let delay = saved.elapsed();
    assert!(delay < Duration::from_millis(1500), "took {delay:?}");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"config": env, "config_version": 1}));
}

/// Two PostgreSQL replicas whose listeners both listen (`None` when PostgreSQL tests are
/// skipped).
async fn live_pair() -> Option<(TestApp, TestApp)> {
    if skip_postgres() {
        return None;
    }
    let one = TestApp::spawn(Backend::Postgres).await;
    let two = one.replica().await;
    let start = Instant::now();
    while !(one.state.replicas_live() && two.state.replicas_live()) {
        assert!(start.elapsed() < Duration::from_secs(5), "listeners not up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some((one, two))
}

/// Heartbeats through one replica until the other refuses the token; how long that took.
async fn refused_after(app: &TestApp, token: &str, body: &serde_json::Value) -> Duration {
    let start = Instant::now();
    loop {
        let r = app.heartbeat(token, body).await;
        if r.status == 401 {
            r.err(401, "unauthorized");
            return start.elapsed();
        }
        r.ok(200);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "token still works"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

mod postgres_live {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dashboard_on_b_sees_a_heartbeat_through_a() {
        let Some((one, two)) = live_pair().await else {
            return;
        };
        let owner = one.first_owner().await;
        let agent = one.agent(&owner, "a").await;
        let token = one.agent_token(&agent).await;
        let mut events = Events::open(&two, &owner.token).await;
        let sent = Instant::now();
        one.heartbeat(&token, &heartbeat(&agent.id, "idle", json!({})))
            .await
            .ok(200);
        tokio::time::timeout(Duration::from_secs(1), events.until("\"status\":\"idle\""))
            .await
            .expect("B's dashboard shows A's heartbeat within 1 s");
        eprintln!("heartbeat on A -> event on B: {:?}", sent.elapsed());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn agent_on_b_gets_a_save_through_a_at_once() {
        let Some((one, two)) = live_pair().await else {
            return;
        };
        let owner = one.first_owner().await;
        let agent = one.agent(&owner, "a").await;
        let token = one.agent_token(&agent).await;
        let es = EncryptionSecret::generate();
        let mut delays = Vec::new();
        for version in 1..=5u64 {
            let path = format!(
                "/api/agents/{}/config?after_version={}&wait=30",
                agent.id,
                version - 1
            );
            let mut waiting = tokio::spawn(two.build(reqwest::Method::GET, &path, &token).send());
            // Long enough for the long-poll to be waiting (and past a 1 s re-read).
            assert!(
                tokio::time::timeout(Duration::from_millis(1100), &mut waiting)
                    .await
                    .is_err()
            );
            let env = envelope(&es, &agent.id, version, &config_document("replica"));
            one.put(
                &format!("/api/agents/{}/config", agent.id),
                &owner.token,
                &json!({"config": env}),
            )
            .await
            .ok(200);
            let saved = Instant::now();
            let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .expect("the long-poll on B answers A's save")
                .unwrap()
                .unwrap();
            delays.push(saved.elapsed());
            let body: serde_json::Value = answer.json().await.unwrap();
            assert_eq!(body, json!({"config": env, "config_version": version}));
        }
        delays.sort();
        let p50 = delays[delays.len() / 2];
        eprintln!("save on A -> long-poll on B: p50 {p50:?}, all {delays:?}");
        assert!(p50 <= Duration::from_millis(500), "p50 {p50:?}");
        assert!(
            delays[delays.len() - 1] < Duration::from_secs(1),
            "{delays:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotation_on_a_cuts_the_agent_off_on_b_at_once() {
        cut_off_on_b_by("rotate-secret").await;
    }

    /// Switching an agent to Ed25519 (and re-issuing its enrollment token) on A revokes
    /// its tokens on B at once, as a rotation does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_switch_to_ed25519_on_a_cuts_the_agent_off_on_b_at_once() {
        cut_off_on_b_by("enrollment-token").await;
    }

    /// `POST /api/agents/{id}/<action>` on A: a token B has cached is refused there in
    /// under a second.
    async fn cut_off_on_b_by(action: &str) {
        let Some((one, two)) = live_pair().await else {
            return;
        };
        let owner = one.first_owner().await;
        let agent = one.agent(&owner, "a").await;
        let token = one.agent_token(&agent).await;
        let hb = heartbeat(&agent.id, "healthy", json!({}));
        // B has the token cached.
        two.heartbeat(&token, &hb).await.ok(200);
        two.heartbeat(&token, &hb).await.ok(200);
        one.post(
            &format!("/api/agents/{}/{action}", agent.id),
            &owner.token,
            &json!({}),
        )
        .await
        .ok(200);
        let took = refused_after(&two, &token, &hb).await;
        eprintln!("{action} on A -> token refused on B: {took:?}");
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }

    /// Notices sent while a listener is disconnected are lost; once it listens again
    /// the replica drops its whole token cache, so nothing stays stale until the TTL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reconnected_listener_rereads() {
        use sqlx::Connection;
        let Some((one, two)) = live_pair().await else {
            return;
        };
        let owner = one.first_owner().await;
        let agent = one.agent(&owner, "a").await;
        let token = one.agent_token(&agent).await;
        let hb = heartbeat(&agent.id, "healthy", json!({}));
        let cached = Instant::now();
        two.heartbeat(&token, &hb).await.ok(200);
        // A revocation no replica announces, then both listeners lose their connection.
        let mut db = sqlx::PgConnection::connect(&one.pg_url().unwrap())
            .await
            .unwrap();
        sqlx::query("DELETE FROM agent_tokens WHERE agent_id = $1")
            .bind(&agent.id)
            .execute(&mut db)
            .await
            .unwrap();
        two.heartbeat(&token, &hb).await.ok(200); // still cached
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        assert_eq!(killed, [true, true]);
        refused_after(&two, &token, &hb).await;
        let took = cached.elapsed();
        assert!(took < Duration::from_secs(3), "refused only after {took:?}");
        // And the replicas hear each other again.
        let start = Instant::now();
        while !two.state.replicas_live() {
            assert!(start.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut events = Events::open(&two, &owner.token).await;
        let token = one.agent_token(&agent).await;
        one.heartbeat(&token, &heartbeat(&agent.id, "idle", json!({})))
            .await
            .ok(200);
        tokio::time::timeout(Duration::from_secs(1), events.until("\"status\":\"idle\""))
            .await
            .expect("B hears A again");
    }
}
