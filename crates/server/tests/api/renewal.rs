//! Token renewal against secret rotation (SPEC §3, issue 8 item 1): a heartbeat with a
//! token in its last third gets a new token, but only while the presented one is still
//! valid. An attacker holding a stolen token floods heartbeats while the owner rotates
//! the secret, on one server and on two replicas of one database (where the other
//! replica's token cache still accepts the old token for a few seconds): 10 s after the
//! rotation, no token issued before or during it works anywhere.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::fixtures::heartbeat;
use crate::common::{Agent, Backend, TestApp};

both_backends!(
    renewal_does_not_survive_rotation_on_one_server,
    renewal_does_not_survive_rotation_across_replicas
);

async fn renewal_does_not_survive_rotation_on_one_server(b: Backend) {
    let one = TestApp::spawn(b).await;
    flood_and_rotate(vec![one], 0).await;
}

async fn renewal_does_not_survive_rotation_across_replicas(b: Backend) {
    let one = TestApp::spawn(b).await;
    let two = one.replica().await;
    // The rotation goes through the second replica; the flood hits both.
    flood_and_rotate(vec![one, two], 1).await;
}

/// Floods heartbeats with tokens in their last third on every app, rotates the secret
/// through `apps[rotate_on]` mid-flood, keeps flooding a while, then checks every token
/// seen (the first ones and every renewal handed out) on every app.
async fn flood_and_rotate(apps: Vec<TestApp>, rotate_on: usize) {
    let apps = Arc::new(apps);
    let owner = apps[0].first_owner().await;
    let agent = apps[0].agent(&owner, "stolen").await;
    let mut stolen = Vec::new();
    for _ in 0..4 {
        stolen.push(apps[0].agent_token(&agent).await);
    }
    // Every token is now in the last third of its life: each heartbeat renews it.
    let ttl = apps[0].settings().agent_token_ttl_secs;
    apps[0].clock.advance(ttl * 2 / 3 + 10);
    let hb = heartbeat(&agent.id, "healthy", json!({"cpu_usage": 1}));
    let renewed = apps[0].heartbeat(&stolen[0], &hb).await.ok(200);
    assert!(renewed.json["token"].is_string(), "{}", renewed.text);

    let issued = Arc::new(Mutex::new(stolen.clone()));
    issued
        .lock()
        .unwrap()
        .push(renewed.json["token"].as_str().unwrap().into());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for worker in 0..6usize {
        let (apps, issued, stop, hb) = (apps.clone(), issued.clone(), stop.clone(), hb.clone());
        let stolen = stolen.clone();
        flood.push(tokio::spawn(async move {
            let mut i = worker;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let app = &apps[i % apps.len()];
                let token = &stolen[i % stolen.len()];
                let r = app.heartbeat(token, &hb).await;
                match r.status.as_u16() {
                    200 => {
                        if let Some(t) = r.json["token"].as_str() {
                            issued.lock().unwrap().push(t.to_string());
                        }
                    }
                    401 => r.err(401, "unauthorized"),
                    _ => panic!("heartbeat during the flood: {} {}", r.status, r.text),
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let new_secret = apps[rotate_on].rotate_secret(&owner, &agent).await;
    let rotated = Instant::now();
    // Keep flooding through the window in which a replica may still accept the old
    // token from its cache.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in flood {
        task.await.expect("flood task");
    }
    let issued = issued.lock().unwrap().clone();
    assert!(issued.len() > stolen.len() + 1, "the flood renewed tokens");

    tokio::time::sleep(Duration::from_secs(10).saturating_sub(rotated.elapsed())).await;
    for (n, app) in apps.iter().enumerate() {
        for token in &issued {
            let r = app.heartbeat(token, &hb).await;
            assert_eq!(
                r.status.as_u16(),
                401,
                "a token issued before or during the rotation still works on replica {n} \
                 10 s later ({} tokens issued): {}",
                issued.len(),
                r.text
            );
        }
    }
    // The real agent, given the new secret, is not locked out.
    let agent = Agent {
        id: agent.id.clone(),
        secret: new_secret,
    };
    let token = apps[0].agent_token(&agent).await;
    for app in apps.iter() {
        app.heartbeat(&token, &hb).await.ok(200);
    }
}
