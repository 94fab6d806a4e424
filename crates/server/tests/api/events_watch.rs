//! A page's stream (`GET /api/events?watch=…`) under a burst of the owner's other agents
//! (issue 10: "heartbeat through A → dashboard event on B ≤ 1 s" with 100 000 agents):
//! [`FLOOD`] agents go offline in one sweep, more than a stream reads in a second, and a
//! watched agent's heartbeat through A right after still reaches B's page streams within
//! [`BOUND`]; with `others=coarse` the burst arrives as counts. Another owner watching the
//! same id gets nothing. On PostgreSQL A and B are two replicas on one database.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::db::Db;
use crate::common::fixtures::heartbeat;
use crate::common::{Backend, TestApp};

both_backends!(a_watched_heartbeat_goes_ahead_of_a_burst);

/// The owner's agents swept offline at once (below the inbox's 20 000 before `resync`).
const FLOOD: i64 = 19_000;
const BOUND: Duration = Duration::from_secs(1);

async fn a_watched_heartbeat_goes_ahead_of_a_burst(backend: Backend) {
    let _alone = crate::common::flood_alone().await;
    let (a, b) = TestApp::spawn_pair(backend).await;
    let b = b.as_ref().unwrap_or(&a);
    let owner = a.first_owner().await;
    let other = a.other_owner("other@example.com").await;
    let probe = a.agent(&owner, "probe").await;
    let token = a.agent_token(&probe).await;
    a.heartbeat(&token, &heartbeat(&probe.id, "healthy", json!({})))
        .await
        .ok(200);
    seed_due_agents(&a, &owner.id, FLOOD).await;

    let watch = format!("/api/events?watch={}", probe.id);
    let coarse = format!("{watch}&others=coarse");
    let mut page = Stream::open(b, &watch, &owner.token).await;
    let mut counted = Stream::open(b, &coarse, &owner.token).await;
    let mut everything = Stream::open(b, "/api/events", &owner.token).await;
    let mut foreign = Stream::open(b, &coarse, &other.token).await;
    // Past the limit, or not one of the ids of a page: refused.
    let many: Vec<String> = (0..201).map(|i| format!("a{i}")).collect();
    let path = format!("/api/events?watch={}", many.join(","));
    b.get(&path, &owner.token).await.err(400, "invalid_request");
    b.get("/api/events?others=some", &owner.token)
        .await
        .err(400, "invalid_request");

    // The burst: every seeded agent falls due and is marked offline (and announced) at
    // once (by A here, or by B's own sweep on the same clock first).
    a.clock.advance(31);
    let marked = a.state.sweep_offline().await.expect("sweep");
    let sent = Instant::now();
    a.heartbeat(&token, &heartbeat(&probe.id, "error", json!({})))
        .await
        .ok(200);
    let is_probe = |kind: &str, v: &Value| {
        kind == "agent" && v["id"] == probe.id.as_str() && v["status"] == "error"
    };
    for (name, stream) in [("watch", &mut page), ("watch+coarse", &mut counted)] {
        let left = BOUND.saturating_sub(sent.elapsed());
        if tokio::time::timeout(left, stream.until(is_probe))
            .await
            .is_err()
        {
            panic!(
                "{backend:?} {name}: the watched heartbeat missed B's stream within {BOUND:?} \
                 behind {marked} agents marked offline ({} agent events read)",
                stream.agents
            );
        }
    }
    let watched = sent.elapsed();
    tokio::time::timeout(Duration::from_secs(60), everything.until(is_probe))
        .await
        .expect("the unscoped stream carries it too");
    eprintln!(
        "{backend:?}: {marked} marked offline by A's sweep; the watched heartbeat reached B's page \
         streams in {watched:?}, the stream of every change in {:?} ({} agent events before it)",
        sent.elapsed(),
        everything.agents
    );

    // The coarse stream counted the burst instead of sending it.
    let total = FLOOD as u64;
    let counting = async {
        while counted.counted < total {
            counted.until(|kind, _| kind == "agents_changed").await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(20), counting)
        .await
        .is_err()
    {
        panic!("counted {} of {total}", counted.counted);
    }
    assert_eq!(
        counted.ids,
        HashSet::from([probe.id.clone()]),
        "only the watched agent was sent"
    );

    // The other owner watched the probe's id: nothing of this owner's reached them.
    let _ = tokio::time::timeout(Duration::from_millis(500), foreign.until(|_, _| false)).await;
    assert_eq!(
        (foreign.ids.len(), foreign.counted),
        (0, 0),
        "{:?}",
        foreign.seen
    );
}

/// Inserts `n` agents of `owner`, seen now at a 10 s interval, straight into the database.
async fn seed_due_agents(app: &TestApp, owner: &str, n: i64) {
    let now = app.now();
    let (series, hex) = if app.pg_url().is_some() {
        (
            format!("SELECT generate_series(1, {n}) AS n"),
            "lpad(to_hex(n), 12, '0')",
        )
    } else {
        (
            format!(
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) \
                 SELECT n FROM s"
            ),
            "printf('%012x', n)",
        )
    };
    let mut db = Db::open(app).await;
    db.exec(&format!(
        "INSERT INTO agents (id, owner_id, name, name_fold, policy_profile, heartbeat_interval, \
         secret_sealed, status, last_seen, created_at) \
         SELECT '00000000-0000-4000-8000-' || {hex}, '{owner}', 'burst-' || n, 'burst-' || n, \
         'dev', 10, 'ocf1.test-not-a-sealed-secret', 'healthy', {}, {now} FROM ({series}) AS g",
        now
    ))
    .await;
}

/// One stream's events, read as they come.
struct Stream {
    res: reqwest::Response,
    buf: Vec<u8>,
    agents: usize,
    /// The agents sent.
    ids: HashSet<String>,
    counted: u64,
    /// Every event's name and data (the foreign stream's are shown on failure).
    seen: Vec<String>,
}

impl Stream {
    async fn open(app: &TestApp, path: &str, token: &str) -> Self {
        let res = app
            .build(reqwest::Method::GET, path, token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        Self {
            res,
            buf: Vec::new(),
            agents: 0,
            ids: HashSet::new(),
            counted: 0,
            seen: Vec::new(),
        }
    }

    /// Reads until an event satisfies `done(name, data)`.
    async fn until(&mut self, done: impl Fn(&str, &Value) -> bool) -> &mut Self {
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buf.drain(..end + 2).collect();
                let event = String::from_utf8_lossy(&event);
                let field = |f: &str| event.lines().find_map(|l| l.strip_prefix(f)).map(str::trim);
                let (Some(kind), Some(data)) = (field("event:"), field("data:")) else {
                    continue;
                };
                let v: Value = serde_json::from_str(data).expect("JSON data");
                match kind {
                    "agent" => {
                        self.agents += 1;
                        self.ids.insert(v["id"].as_str().expect("id").to_string());
                    }
                    "agents_changed" => self.counted += v["count"].as_u64().expect("count"),
                    _ => {}
                }
                if self.seen.len() < 20 {
                    self.seen.push(format!("{kind} {data}"));
                }
                if done(kind, &v) {
                    return self;
                }
            }
            let chunk = self.res.chunk().await.unwrap().expect("stream open");
            self.buf.extend_from_slice(&chunk);
        }
    }
}
