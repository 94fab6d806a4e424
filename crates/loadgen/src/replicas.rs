//! `--mode replicas`: what crosses from replica A to replica B (the same URL twice on
//! SQLite, where there is one server): a config saved through A reaching an agent
//! long-polling B, a heartbeat through A reaching a dashboard event stream on B, and
//! `pollers` agents long-polling B at once — B's CPU and (on PostgreSQL) the database's
//! transactions while nothing is saved, then saves reaching some of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use openclaw_fleet_protocol::{AgentId, EncryptionSecret, Envelope};
use serde_json::{json, Value};

use crate::provision::{self, Agent};

/// Parallel lanes saving configs; each saves on its own agent, one save at a time.
const LANES: usize = 20;
/// Saves per lane in the A→B config figure.
const SAVES_PER_LANE: usize = 10;
/// Heartbeats through A timed to B's event stream.
const EVENT_SAMPLES: usize = 100;
/// The idle window over which B's CPU is read with every poller waiting.
const IDLE_WINDOW: Duration = Duration::from_secs(20);
/// Long-poll wait asked by each poller (the SPEC's maximum).
const WAIT_SECS: u64 = 60;

pub struct Setup<'a> {
    pub client: &'a reqwest::Client,
    pub a: &'a str,
    pub b: &'a str,
    pub owner: &'a str,
    pub pollers: usize,
    pub pid_b: Option<u32>,
    /// A PostgreSQL database name to read `pg_stat_database` of (through `psql`).
    pub pg_database: Option<String>,
}

pub async fn run(s: Setup<'_>) -> anyhow::Result<()> {
    let n = s.pollers.max(LANES).max(EVENT_SAMPLES);
    let agents = provision::create_agents(s.client, s.a, s.owner, "replica", n).await?;
    let tokens = provision::tokens(s.client, s.a, &agents, 64, crate::unix_now()).await?;
    let saves = config_a_to_b(&s, &agents[..LANES], &tokens[..LANES]).await?;
    print_ms(
        "config saved through A -> long-poll answered on B",
        saves,
        "p50 <= 200 ms, p99 <= 1 s",
        |p50, p99| p50 <= 200.0 && p99 <= 1000.0,
    );
    // A dashboard page showing the sampled agents (as the web app's list and detail pages
    // ask: see docs/api.md), then a stream of every change (clients that name no agents).
    let sampled = &tokens[..EVENT_SAMPLES];
    let ids: Vec<&str> = sampled.iter().map(|(id, _)| id.as_str()).collect();
    let page = format!("?watch={}&others=coarse", ids.join(","));
    let watched = event_a_to_b(&s, sampled, &page, "healthy").await?;
    let met = print_events(
        "heartbeat through A -> dashboard event on B (page watching them)",
        watched,
    );
    let all = event_a_to_b(&s, sampled, "", "idle").await?;
    print_events(
        "heartbeat through A -> event on B (stream of every change)",
        all,
    );
    long_pollers(&s, &agents, &tokens).await?;
    anyhow::ensure!(met, "heartbeats through A missed the page's stream on B");
    Ok(())
}

/// Time from sending a save through A to the answer of a long-poll waiting on B.
async fn config_a_to_b(
    s: &Setup<'_>,
    agents: &[Agent],
    tokens: &[(String, String)],
) -> anyhow::Result<Vec<f64>> {
    eprintln!("config A -> B: {LANES} lanes x {SAVES_PER_LANE} saves…");
    let lanes = agents
        .iter()
        .zip(tokens)
        .map(|(agent, (_, token))| async move {
            let mut samples = Vec::new();
            for version in 1..=SAVES_PER_LANE as u64 {
                let poll = async {
                    let v =
                        long_poll(s.client, s.b, &agent.id, token, version - 1, WAIT_SECS).await;
                    (v, Instant::now())
                };
                let saved = async {
                    // Let the poll reach B and wait there before the save.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    let t = Instant::now();
                    save(s.client, s.a, s.owner, &agent.id, version).await?;
                    anyhow::Ok(t)
                };
                let ((answered, at), t) = tokio::join!(poll, saved);
                let (answered, t) = (answered?, t?);
                anyhow::ensure!(
                    answered == version,
                    "B answered version {answered}, saved {version}"
                );
                samples.push(at.saturating_duration_since(t).as_secs_f64() * 1000.0);
            }
            anyhow::Ok(samples)
        });
    let mut all = Vec::new();
    for lane in futures::future::join_all(lanes).await {
        all.extend(lane?);
    }
    Ok(all)
}

/// What one event stream on B showed of the heartbeats sent through A.
struct EventFigure {
    /// Milliseconds from each heartbeat sent to its event, for those that arrived.
    ms: Vec<f64>,
    /// Heartbeats whose event never came within 2 s (forgotten in a `resync` included).
    missing: usize,
    /// `agent` events, `resync` events and agents counted by `agents_changed` on the stream.
    agents: usize,
    resyncs: usize,
    counted: u64,
}

/// Time from sending a heartbeat through A to its `agent` event on B's stream, opened
/// with `query` (e.g. the agents a dashboard page shows as `watch`); each heartbeat says
/// `status` (which the sampled agents did not have before), and only an event showing it
/// counts.
async fn event_a_to_b(
    s: &Setup<'_>,
    tokens: &[(String, String)],
    query: &str,
    status: &'static str,
) -> anyhow::Result<EventFigure> {
    let scope = if query.is_empty() {
        "every change"
    } else {
        "watch + others=coarse"
    };
    eprintln!(
        "heartbeat A -> dashboard B: {} samples, stream of {scope}…",
        tokens.len()
    );
    #[derive(Default)]
    struct Seen {
        at: HashMap<String, Instant>,
        agents: usize,
        resyncs: usize,
        counted: u64,
    }
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let mut stream = s
        .client
        .get(format!("{}/api/events{query}", s.b))
        .bearer_auth(s.owner)
        .timeout(Duration::from_secs(3600))
        .send()
        .await?
        .error_for_status()?;
    let reader = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                let now = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    let kind = event.lines().find_map(|l| l.strip_prefix("event:"));
                    let data = event.lines().find_map(|l| l.strip_prefix("data:"));
                    let v: Value = data
                        .and_then(|d| serde_json::from_str(d.trim()).ok())
                        .unwrap_or_default();
                    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                    match kind.map(str::trim) {
                        Some("agent") => {
                            seen.agents += 1;
                            // Only the sampled heartbeat's state counts (not an older event).
                            if let (Some(id), true) =
                                (v["id"].as_str(), v["status"].as_str() == Some(status))
                            {
                                seen.at.entry(id.to_string()).or_insert(now);
                            }
                        }
                        Some("resync") => seen.resyncs += 1,
                        Some("agents_changed") => seen.counted += v["count"].as_u64().unwrap_or(0),
                        _ => {}
                    }
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sent = Vec::new();
    for (id, token) in tokens {
        seen.lock().unwrap_or_else(|e| e.into_inner()).at.remove(id);
        let t = Instant::now();
        s.client
            .post(format!("{}/api/heartbeat", s.a))
            .bearer_auth(token)
            .json(&json!({"agent_id": id, "status": status, "metrics": {"cpu_usage": 1.0}}))
            .send()
            .await?
            .error_for_status()?;
        sent.push((id.clone(), t));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    reader.abort();
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut figure = EventFigure {
        ms: Vec::new(),
        missing: 0,
        agents: seen.agents,
        resyncs: seen.resyncs,
        counted: seen.counted,
    };
    for (id, t) in sent {
        match seen.at.get(&id) {
            Some(at) => figure
                .ms
                .push(at.saturating_duration_since(t).as_secs_f64() * 1000.0),
            None => figure.missing += 1,
        }
    }
    Ok(figure)
}

/// Prints an event figure; whether its target (all arrived, p99 <= 1 s) was met.
fn print_events(what: &str, f: EventFigure) -> bool {
    let arrived = f.ms.len();
    let met = f.missing == 0 && percentile(&f.ms, 99.0).is_some_and(|p99| p99 <= 1000.0);
    println!(
        "{what}: {arrived} of {} arrived, {} missed within 2 s; the stream carried {} agent \
         events, {} resync, {} other agents' changes counted",
        arrived + f.missing,
        f.missing,
        f.agents,
        f.resyncs,
        f.counted
    );
    print_ms(
        &format!("{what} (arrived)"),
        f.ms,
        "<= 1 s (p99), none missed",
        |_, p99| met && p99 <= 1000.0,
    );
    met
}

fn percentile(ms: &[f64], p: f64) -> Option<f64> {
    let mut ms = ms.to_vec();
    ms.sort_by(|a, b| a.total_cmp(b));
    (!ms.is_empty()).then(|| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize])
}

/// `pollers` agents long-poll B; B's CPU over an idle window, then saves reaching them.
async fn long_pollers(
    s: &Setup<'_>,
    agents: &[Agent],
    tokens: &[(String, String)],
) -> anyhow::Result<()> {
    let n = agents.len();
    eprintln!("{n} agents long-polling B…");
    // One connection each: a pool sized for them all.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n)
        .timeout(Duration::from_secs(WAIT_SECS + 30))
        .build()?;
    // Configs saved in the A -> B figure left these versions.
    let base_version = |i: usize| if i < LANES { SAVES_PER_LANE as u64 } else { 0 };
    let answered: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let mut tasks = Vec::with_capacity(n);
    for (i, (agent, (_, token))) in agents.iter().zip(tokens).take(n).enumerate() {
        let (client, b, id, token) = (client.clone(), s.b.to_string(), agent.id, token.clone());
        let answered = answered.clone();
        let mut after = base_version(i);
        tasks.push(tokio::spawn(async move {
            loop {
                match long_poll(&client, &b, &id, &token, after, WAIT_SECS).await {
                    Ok(v) if v > after => {
                        answered
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(i, Instant::now());
                        after = v;
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }));
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu0 = s.pid_b.map(cpu_ticks).transpose()?;
    let tx0 = s.pg_database.as_deref().map(pg_transactions).transpose()?;
    let t0 = Instant::now();
    tokio::time::sleep(IDLE_WINDOW).await;
    let window = t0.elapsed().as_secs_f64();
    let cpu = match (s.pid_b, cpu0) {
        (Some(pid), Some(c0)) => {
            let ticks = cpu_ticks(pid)? - c0;
            format!(
                "{:.2} % of one core ({} ms CPU in {window:.0} s)",
                ticks as f64 / window,
                ticks * 10
            )
        }
        _ => "not read (no --pid-b)".into(),
    };
    let tx = match (s.pg_database.as_deref(), tx0) {
        (Some(db), Some(x0)) => {
            let tx = pg_transactions(db)? - x0;
            format!(
                "; database transactions meanwhile: {tx} ({:.1}/s, one of them this reading)",
                tx as f64 / window
            )
        }
        _ => String::new(),
    };
    println!("{n} agents long-polling B, nothing saved for {window:.0} s: B used {cpu}{tx}");

    // Saves through A to 20 of the waiting agents, spread over the fleet.
    let picks: Vec<usize> = (0..20).map(|k| LANES + k * (n - LANES) / 20).collect();
    let mut samples = Vec::new();
    for &i in &picks {
        let t = Instant::now();
        save(s.client, s.a, s.owner, &agents[i].id, base_version(i) + 1).await?;
        let deadline = t + Duration::from_secs(5);
        loop {
            if let Some(at) = answered.lock().unwrap_or_else(|e| e.into_inner()).get(&i) {
                samples.push(at.saturating_duration_since(t).as_secs_f64() * 1000.0);
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "a save did not reach its poller on B within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for t in tasks {
        t.abort();
    }
    print_ms(
        &format!("config A -> B with {n} long-polls waiting on B"),
        samples,
        "p50 <= 200 ms, p99 <= 1 s",
        |p50, p99| p50 <= 200.0 && p99 <= 1000.0,
    );
    Ok(())
}

/// Long-polls B for a version above `after`; returns the version answered.
async fn long_poll(
    client: &reqwest::Client,
    base: &str,
    id: &AgentId,
    token: &str,
    after: u64,
    wait: u64,
) -> anyhow::Result<u64> {
    let answer: Value = client
        .get(format!(
            "{base}/api/agents/{id}/config?after_version={after}&wait={wait}"
        ))
        .bearer_auth(token)
        .timeout(Duration::from_secs(wait + 30))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    answer["config_version"]
        .as_u64()
        .context("no config_version")
}

/// Saves an envelope of `version` (sealed under a throwaway secret) through `base`.
async fn save(
    client: &reqwest::Client,
    base: &str,
    owner: &str,
    id: &AgentId,
    version: u64,
) -> anyhow::Result<()> {
    let env = Envelope::seal(
        &EncryptionSecret::generate(),
        id,
        version,
        b"{\"schema\":1,\"env\":{}}",
    )?;
    client
        .put(format!("{base}/api/agents/{id}/config"))
        .bearer_auth(owner)
        .json(&json!({"config": env.to_json()}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// utime + stime of a process, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

/// Committed + rolled-back transactions on a local PostgreSQL database.
fn pg_transactions(db: &str) -> anyhow::Result<u64> {
    let out = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atc"])
        .arg("select xact_commit + xact_rollback from pg_stat_database where datname = current_database()")
        .output()?;
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

fn print_ms(what: &str, mut ms: Vec<f64>, target: &str, met: impl Fn(f64, f64) -> bool) {
    if ms.is_empty() {
        println!("{what}: no samples");
        return;
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize];
    let (p50, p99) = (pct(50.0), pct(99.0));
    println!(
        "{what}: {} samples, p50 {p50:.1} ms, p99 {p99:.1} ms, max {:.1} ms (target {target}: {})",
        ms.len(),
        pct(100.0),
        if met(p50, p99) { "met" } else { "NOT met" }
    );
}
