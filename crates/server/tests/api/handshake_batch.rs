//! Handshakes sent at once are verified and recorded in one batch (the writer reads every
//! agent's credentials under the batch's lock): each is still answered as if alone. An
//! unknown agent, a wrong signature, a replay, a signature sent twice, and valid HMAC and
//! Ed25519 handshakes of two agents, all concurrent: each gets its own answer, the valid
//! ones their own agent's settings and a working token. The same signed handshake sent
//! many times at once to two replicas (copies land in successive batches of one replica and
//! in the two replicas' batches, which run at the same time): exactly one copy is accepted,
//! every other one is a clean 401 `replayed`, never a 5xx.

use openclaw_fleet_protocol::{AgentSecret, IdentityKey};
use serde_json::json;

use crate::common::fixtures::{heartbeat, signed};
use crate::common::{Backend, Resp, TestApp};

both_backends!(
    concurrent_mixed_handshakes_are_answered_each_alone,
    one_signature_sent_at_once_to_both_replicas_is_accepted_once
);

const ROUNDS: u8 = 4;

async fn concurrent_mixed_handshakes_are_answered_each_alone(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let gateway =
        |name: &str| json!({"name": name, "gateway_url": format!("https://{name}.example.com")});
    let a = app.create_agent(&owner, gateway("a")).await;
    let other = app.create_agent(&owner, gateway("other")).await;
    let ed = crate::identity::create_ed_agent(&app, &owner, "ed").await;
    let key = IdentityKey::generate();
    crate::identity::enroll(&app, &crate::identity::enroll_now(&app, &ed, &key))
        .await
        .ok(200);
    let stranger = AgentSecret::generate();
    let stranger = stranger.expose_secret().to_string();
    for round in 0..ROUNDS {
        // A new limiter window and a new second for every signature.
        app.clock.advance(61);
        let used = signed(&a.id, &a.secret, app.now() - 1);
        app.handshake(&used).await.ok(200);
        let ghost = uuid::Uuid::new_v4().to_string();
        let twice = signed(&a.id, &a.secret, app.now());
        let bodies = [
            signed(&ghost, &stranger, app.now()),
            signed(&a.id, &stranger, app.now()),
            used,
            twice.clone(),
            twice,
            signed(&other.id, &other.secret, app.now()),
            crate::identity::ed_handshake(&app, &ed.id, &key),
        ];
        let answers = futures::future::join_all(bodies.iter().enumerate().map(|(i, body)| {
            let client = app.client_from(20 * round + i as u8 + 2);
            let app = &app;
            async move {
                app.send(client.post(app.url("/api/agents/handshake")).json(body))
                    .await
            }
        }))
        .await;
        answers[0].err(401, "unauthorized");
        answers[1].err(401, "unauthorized");
        assert_eq!(answers[0].text, answers[1].text);
        answers[2].err(401, "replayed");
        let (first, second) = (&answers[3], &answers[4]);
        let (won, lost) = if first.status == 200 {
            (first, second)
        } else {
            (second, first)
        };
        lost.err(401, "replayed");
        works(&app, &a.id, won, "https://a.example.com").await;
        works(&app, &other.id, &answers[5], "https://other.example.com").await;
        assert_eq!(answers[6].status, 200, "{}", answers[6].text);
        assert!(
            answers[6].json["gateway_url"].is_null(),
            "{}",
            answers[6].text
        );
        beat(&app, &ed.id, &answers[6]).await;
    }
}

/// An accepted handshake, answered with its own agent's row and a token that works.
async fn works(app: &TestApp, id: &str, r: &Resp, gateway_url: &str) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["gateway_url"], gateway_url, "{}", r.text);
    beat(app, id, r).await;
}

async fn beat(app: &TestApp, id: &str, r: &Resp) {
    let token = r.json["token"].as_str().expect("a token");
    app.heartbeat(token, &heartbeat(id, "healthy", json!({})))
        .await
        .ok(200);
}

/// Copies of each signed handshake sent at once, alternately to each replica.
const COPIES: usize = 24;

async fn one_signature_sent_at_once_to_both_replicas_is_accepted_once(b: Backend) {
    let one = TestApp::spawn(b).await;
    let two = one.replica().await;
    let owner = one.first_owner().await;
    let agents = [one.agent(&owner, "a").await, one.agent(&owner, "b").await];
    for _ in 0..ROUNDS {
        one.clock.advance(61);
        let bodies: Vec<_> = agents
            .iter()
            .map(|a| signed(&a.id, &a.secret, one.now()))
            .collect();
        let answers = futures::future::join_all((0..COPIES * bodies.len()).map(|i| {
            let (app, body) = (if i % 2 == 0 { &one } else { &two }, &bodies[i / COPIES]);
            async move { (i / COPIES, app.handshake(body).await) }
        }))
        .await;
        for (k, agent) in agents.iter().enumerate() {
            let mine: Vec<_> = answers.iter().filter(|(j, _)| *j == k).collect();
            let accepted: Vec<_> = mine.iter().filter(|(_, r)| r.status == 200).collect();
            assert_eq!(
                accepted.len(),
                1,
                "{:?}",
                mine.iter().map(|(_, r)| r.status).collect::<Vec<_>>()
            );
            for (_, r) in mine.iter().filter(|(_, r)| r.status != 200) {
                r.err(401, "replayed");
            }
            beat(&one, &agent.id, &accepted[0].1).await;
        }
    }
}
