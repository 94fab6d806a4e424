//! Handshake timing (SPEC §2, issue 8 item 8): a handshake naming an unknown agent and
//! one naming a known agent with a wrong signature must cost the same, so an attacker
//! cannot learn which agent ids exist. The known agent carries the largest config the
//! server stores, which a lookup reading the whole row would pay for before the
//! signature check. The two kinds are interleaved (so load on the machine hits both
//! alike) and their medians over hundreds of runs must be within 20 % of each other.

use std::time::{Duration, Instant};

use openclaw_fleet_protocol::{AgentSecret, EncryptionSecret, IdentityKey};
use serde_json::{json, Value};

use crate::common::fixtures::{envelope, signed};
use crate::common::{Backend, Owner, TestApp};

both_backends!(
    unknown_agent_and_wrong_signature_cost_the_same,
    ed25519_unknown_agent_and_wrong_key_cost_the_same,
);

/// Pairs measured (after a warm-up), per round.
const PAIRS: usize = 300;
/// Failures per (agent, source) stay under the limit (10 per minute) between clock steps.
const PAIRS_PER_WINDOW: usize = 8;

async fn unknown_agent_and_wrong_signature_cost_the_same(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "large").await;
    with_large_config(&app, &owner, &agent.id).await;
    let wrong = AgentSecret::generate();
    let wrong = wrong.expose_secret().to_string();
    compare(
        &app,
        |app, ghost| signed(ghost, &wrong, app.now()),
        |app| signed(&agent.id, &wrong, app.now()),
    )
    .await;
}

/// The same for the Ed25519 handshake (SPEC-identity): an enrolled agent with a wrong
/// key costs what an unknown agent does (which is checked against a throwaway key).
async fn ed25519_unknown_agent_and_wrong_key_cost_the_same(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = crate::identity::create_ed_agent(&app, &owner, "large").await;
    let key = IdentityKey::generate();
    crate::identity::enroll(&app, &crate::identity::enroll_now(&app, &agent, &key))
        .await
        .ok(200);
    with_large_config(&app, &owner, &agent.id).await;
    let wrong = IdentityKey::generate();
    compare(
        &app,
        |app, ghost| crate::identity::ed_handshake(app, ghost, &wrong),
        |app| crate::identity::ed_handshake(app, &agent.id, &wrong),
    )
    .await;
}

async fn with_large_config(app: &TestApp, owner: &Owner, id: &str) {
    let es = EncryptionSecret::generate();
    let doc = json!({
        "schema": 1,
        "env": { "PADDING": "x".repeat(45_000) },
        "openclaw": {},
    });
    app.put(
        &format!("/api/agents/{id}/config"),
        &owner.token,
        &json!({"config": envelope(&es, id, 1, &doc)}),
    )
    .await
    .ok(200);
}

/// Interleaves refused handshakes naming unknown agents (`ghost_body`) and the known
/// agent (`known_body`); their medians must be within 20 % of each other.
async fn compare(
    app: &TestApp,
    ghost_body: impl Fn(&TestApp, &str) -> Value,
    known_body: impl Fn(&TestApp) -> Value,
) {
    let mut unknown = Vec::with_capacity(PAIRS);
    let mut known = Vec::with_capacity(PAIRS);
    for i in 0..PAIRS + 20 {
        if i % PAIRS_PER_WINDOW == 0 {
            // A new limiter window, so neither kind is answered 429.
            app.clock.advance(61);
        }
        let ghost = uuid::Uuid::new_v4().to_string();
        let ghost_body = ghost_body(app, &ghost);
        let known_body = known_body(app);
        // Alternate which goes first, so neither kind always follows the other.
        let (first, second) = if i % 2 == 0 {
            (&ghost_body, &known_body)
        } else {
            (&known_body, &ghost_body)
        };
        let t_first = timed(app, first).await;
        let t_second = timed(app, second).await;
        let (t_ghost, t_known) = if i % 2 == 0 {
            (t_first, t_second)
        } else {
            (t_second, t_first)
        };
        if i >= 20 {
            unknown.push(t_ghost);
            known.push(t_known);
        }
    }
    let (m_unknown, m_known) = (median(&mut unknown), median(&mut known));
    let ratio = m_known.as_secs_f64() / m_unknown.as_secs_f64();
    eprintln!("handshake medians: known {m_known:?}, unknown {m_unknown:?}, ratio {ratio:.2}");
    assert!(
        (0.8..=1.2).contains(&ratio),
        "median handshake time: known agent, wrong signature {m_known:?}; unknown agent \
         {m_unknown:?} (ratio {ratio:.2})"
    );
}

/// One handshake's wall time; it must be refused as unauthorized.
async fn timed(app: &TestApp, body: &serde_json::Value) -> Duration {
    let start = Instant::now();
    let r = app.handshake(body).await;
    let took = start.elapsed();
    r.err(401, "unauthorized");
    took
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
