//! A dashboard's live events under a flood (issue 10: "heartbeat through A → dashboard
//! event on B ≤ 1 s"): while many agents' heartbeats and offline transitions go through
//! replica A, one agent's heartbeat through A still reaches an event stream on replica B
//! within a second. On PostgreSQL A and B are two replicas on one database (the event
//! crosses by `NOTIFY`); on SQLite, which has no notices between processes, B is A.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::common::fixtures::heartbeat;
use crate::common::{Agent, Backend, Owner, TestApp};

both_backends!(a_heartbeat_is_not_queued_behind_a_flood);

/// Agents flooding A (each heartbeats, then all are swept offline at once, per round).
const FLOOD: usize = 1500;
const ROUNDS: usize = 2;
/// The bound under test.
const BOUND: Duration = Duration::from_secs(1);

async fn a_heartbeat_is_not_queued_behind_a_flood(backend: Backend) {
    let _alone = crate::common::flood_alone().await;
    let (a, b) = TestApp::spawn_pair(backend).await;
    let b = b.as_ref().unwrap_or(&a);
    let owner = a.first_owner().await;
    let probe = a.agent(&owner, "probe").await;
    let probe_token = a.agent_token(&probe).await;
    let flood = agents_with_tokens(&a, &owner, FLOOD).await;
    let mut events = Stream::open(b, &owner.token).await;

    let mut took = Vec::new();
    for _ in 0..ROUNDS {
        // Every flooding agent heartbeats through A; the probe's heartbeat goes out in
        // the middle of it.
        let beats = futures::stream::iter(&flood)
            .map(|(agent, token)| {
                let a = &a;
                async move {
                    a.heartbeat(token, &heartbeat(&agent.id, "healthy", json!({})))
                        .await
                        .ok(200);
                }
            })
            .buffer_unordered(32);
        let (_, mid) = tokio::join!(beats.collect::<Vec<()>>(), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            probe_to_b(&a, &mut events, &probe, &probe_token, "idle").await
        });
        took.push(mid);
        // Then they all fall silent and one sweep marks (and announces) them offline,
        // the probe with them; its next heartbeat goes through A at once.
        a.clock.advance(91);
        // (B's own sweep, on the same clock, may get there first.)
        a.state.sweep_offline().await.expect("sweep");
        took.push(probe_to_b(&a, &mut events, &probe, &probe_token, "error").await);
    }
    eprintln!(
        "{backend:?}: heartbeat on A -> event on B under a flood of {FLOOD} agents: {took:?}; \
         {} events read",
        events.count
    );
    assert!(
        events.count >= FLOOD,
        "the flood reached B's stream: {} events",
        events.count
    );
}

/// Creates `n` agents and a token for each, 16 at a time.
async fn agents_with_tokens(app: &TestApp, owner: &Owner, n: usize) -> Vec<(Agent, String)> {
    futures::stream::iter(0..n)
        .map(|i| async move {
            let agent = app.agent(owner, &format!("flood-{i}")).await;
            let token = app.handshake_now(&agent).await.ok(200).json["token"]
                .as_str()
                .expect("token")
                .to_string();
            (agent, token)
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// Sends the probe's heartbeat with `status` through A; returns how long until B's stream
/// showed it, failing past [`BOUND`].
async fn probe_to_b(
    a: &TestApp,
    events: &mut Stream,
    probe: &Agent,
    token: &str,
    status: &str,
) -> Duration {
    let sent = Instant::now();
    a.heartbeat(token, &heartbeat(&probe.id, status, json!({})))
        .await
        .ok(200);
    tokio::time::timeout(BOUND, events.until_agent(&probe.id, status))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no {status:?} event for the probe on B within {BOUND:?} ({} events read)",
                events.count
            )
        });
    sent.elapsed()
}

/// An event stream read event by event (it carries thousands; nothing is kept).
struct Stream {
    res: reqwest::Response,
    buf: Vec<u8>,
    /// `agent` events read so far.
    count: usize,
}

impl Stream {
    async fn open(app: &TestApp, token: &str) -> Self {
        Self {
            res: crate::events::Events::open(app, token)
                .await
                .into_response(),
            buf: Vec::new(),
            count: 0,
        }
    }

    /// Reads until an `agent` event shows agent `id` with `status`.
    async fn until_agent(&mut self, id: &str, status: &str) {
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buf.drain(..end + 2).collect();
                let event = String::from_utf8_lossy(&event);
                if !event.starts_with("event: agent\n") {
                    continue;
                }
                self.count += 1;
                let data = event.lines().find_map(|l| l.strip_prefix("data:"));
                let v: Value =
                    serde_json::from_str(data.expect("data").trim()).expect("agent JSON");
                if v["id"] == id && v["status"] == status {
                    return;
                }
            }
            let chunk = self.res.chunk().await.unwrap().expect("stream open");
            self.buf.extend_from_slice(&chunk);
        }
    }
}
