//! `openclaw-fleet-loadgen`: drives simulated agents against a running server. The
//! closed-loop mode prints handshakes/s and heartbeats/s with p50/p99 latency, next to the
//! server's no-op endpoint (`/healthz`) measured in the same run, so the figures are
//! ratios that hold on a noisy machine; `--mode open` provisions N agents, runs a
//! reconnect storm and then an open loop at a fixed arrival rate; `--mode replicas`
//! measures what crosses between two replicas.

mod login_storm;
mod measure;
mod open_loop;
mod outcome;
mod provision;
mod replicas;
mod storm;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use openclaw_fleet_protocol::handshake_body;
use serde_json::{json, Value};

use measure::{run_phase, Report};

#[derive(Parser)]
#[command(
    version,
    about = "Benchmark an OpenClaw Fleet server with simulated agents"
)]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Owner account to create the simulated agents under.
    #[arg(long)]
    email: String,
    /// File holding that account's password.
    #[arg(long)]
    password_file: std::path::PathBuf,
    /// Simulated agents.
    #[arg(long, default_value_t = 200)]
    agents: usize,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Instead: heartbeat latency with and without 20 parallel wrong-password logins.
    #[arg(long)]
    login_storm: bool,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Closed)]
    mode: Mode,
    /// Open loop: seconds between one agent's heartbeats.
    #[arg(long, default_value_t = 10.0)]
    interval: f64,
    /// Open loop: each interval varies by up to ± this many seconds.
    #[arg(long, default_value_t = 1.0)]
    jitter: f64,
    /// Open loop and storm: requests on the wire at once (the connection pool's bound).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Open loop: driver tasks sharing the agents.
    #[arg(long, default_value_t = 4)]
    drivers: usize,
    /// Replicas: the second replica's base URL.
    #[arg(long)]
    url_b: Option<String>,
    /// Replicas: process id of replica B, to read its CPU time while agents long-poll it.
    #[arg(long)]
    pid_b: Option<u32>,
    /// Replicas: the PostgreSQL database to count transactions on (read with `psql`).
    #[arg(long)]
    pg_database: Option<String>,
    /// Replicas: agents long-polling replica B at once.
    #[arg(long, default_value_t = 10_000)]
    pollers: usize,
}

/// What the run measures.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Mode {
    /// No-op, handshakes and heartbeats, each with `--concurrency` requests in flight.
    Closed,
    /// Provision `--agents`, reconnect storm, then `--seconds` of open-loop heartbeats.
    Open,
    /// Two replicas: config and dashboard events from A to B, long-pollers on B.
    Replicas,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base = args.url.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let password =
        std::fs::read_to_string(&args.password_file).context("reading the password file")?;
    if args.login_storm {
        return login_storm::run(login_storm::Setup {
            base: &base,
            email: &args.email,
            password: password.trim_end_matches('\n'),
            agents: args.agents,
            concurrency: args.concurrency,
            seconds: args.seconds,
        })
        .await;
    }
    let owner = login(&client, &base, &args.email, password.trim_end_matches('\n')).await?;
    match args.mode {
        Mode::Closed => closed_loop(&args, &client, &base, &owner).await,
        Mode::Open => open(&args, &base, &owner).await,
        Mode::Replicas => {
            let b = args
                .url_b
                .as_deref()
                .context("--mode replicas needs --url-b")?;
            replicas::run(replicas::Setup {
                client: &client,
                a: &base,
                b: b.trim_end_matches('/'),
                owner: &owner,
                pollers: args.pollers,
                pid_b: args.pid_b,
                pg_database: args.pg_database.clone(),
            })
            .await
        }
    }
}

/// A client whose pool keeps up to `connections` idle keep-alive connections.
fn pooled_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(20))
        .build()?)
}

/// `--mode open`: provisioning, the reconnect storm, then the open loop.
async fn open(args: &Args, base: &str, owner: &str) -> anyhow::Result<()> {
    let client = pooled_client(args.max_in_flight)?;
    let agents = provision::create_agents(&client, base, owner, "open", args.agents).await?;
    let (tokens, storm_errors) = storm::run(&client, base, &agents, args.max_in_flight).await?;
    let shape = open_loop::Shape {
        interval: Duration::from_secs_f64(args.interval),
        jitter: Duration::from_secs_f64(args.jitter),
        duration: Duration::from_secs(args.seconds),
        drivers: args.drivers.max(1),
        max_in_flight: args.max_in_flight,
    };
    let summary = open_loop::run(&client, base, &tokens, &shape).await?;
    if storm_errors.server_5xx > 0 || summary.errors.total() > 0 {
        bail!(
            "errors: storm {storm_errors}; open loop {} (p99 {:.2} ms, {} of {} completed)",
            summary.errors,
            summary.p99_ms,
            summary.completed,
            summary.offered
        );
    }
    Ok(())
}

/// `--mode closed`: no-op, handshakes and heartbeats back to back.
async fn closed_loop(
    args: &Args,
    client: &reqwest::Client,
    base: &str,
    owner: &str,
) -> anyhow::Result<()> {
    let base = base.to_string();
    let agents = provision::create_agents(client, &base, owner, "loadgen", args.agents).await?;
    let agents = Arc::new(agents);
    let concurrency = args.concurrency;
    let dur = Duration::from_secs(args.seconds);

    let noop = {
        let (client, base) = (client.clone(), base.clone());
        run_phase("no-op GET /healthz", concurrency, dur, move |_, _| {
            let (client, url) = (client.clone(), format!("{base}/healthz"));
            async move { ok(client.get(url).send().await) }
        })
        .await
    };

    // Each (agent, timestamp) signs once: spread timestamps over the accepted window.
    let handshakes = {
        let (client, base, agents) = (client.clone(), base.clone(), agents.clone());
        let now = unix_now();
        run_phase("handshake", concurrency, dur, move |worker, n| {
            let k = n * concurrency as u64 + worker as u64;
            let agent = &agents[(k % agents.len() as u64) as usize];
            let ts = now - 50 + k / agents.len() as u64;
            let body = handshake_body(&agent.id, ts, &agent.secret);
            let (client, url) = (client.clone(), format!("{base}/api/agents/handshake"));
            async move { ok(client.post(url).json(&body).send().await) }
        })
        .await
    };

    eprintln!("handshaking every agent once for the heartbeat phase…");
    let ts = unix_now() + 55;
    let tokens = Arc::new(provision::tokens(client, &base, &agents, concurrency, ts).await?);
    let heartbeats = {
        let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
        run_phase("heartbeat", concurrency, dur, move |worker, n| {
            let k = n as usize * concurrency + worker;
            let (id, token) = &tokens[k % tokens.len()];
            let body = json!({"agent_id": id, "status": "healthy", "metrics": {
                "cpu_usage": (k % 100) as f64, "memory_usage": 42.5, "disk_usage": 61.0,
                "uptime_hours": 12, "latency_ms": 3}});
            let req = client
                .post(format!("{base}/api/heartbeat"))
                .bearer_auth(token)
                .json(&body);
            async move { ok(req.send().await) }
        })
        .await
    };

    print_reports(&noop, &handshakes, &heartbeats);
    if handshakes.errors + heartbeats.errors > 0 {
        bail!("{} requests failed", handshakes.errors + heartbeats.errors);
    }
    Ok(())
}

/// Signs the owner in and returns the session token.
async fn login(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let answer: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?
        .error_for_status()
        .context("login failed")?
        .json()
        .await?;
    Ok(answer["token"]
        .as_str()
        .context("no token in login answer")?
        .to_string())
}

fn ok(r: reqwest::Result<reqwest::Response>) -> bool {
    r.map(|r| r.status().is_success()).unwrap_or(false)
}

/// This process's CPU time (user + system) so far, in seconds; 0 where `/proc` is missing.
pub(crate) fn self_cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn print_reports(noop: &Report, hs: &Report, hb: &Report) {
    println!(
        "{:<22} {:>10} {:>9} {:>9} {:>8} {:>10}",
        "phase", "req/s", "p50 ms", "p99 ms", "errors", "vs no-op"
    );
    for r in [noop, hs, hb] {
        println!(
            "{:<22} {:>10.0} {:>9.2} {:>9.2} {:>8} {:>9.0}%",
            r.name,
            r.rate(),
            r.percentile(50.0),
            r.percentile(99.0),
            r.errors,
            100.0 * r.rate() / noop.rate()
        );
    }
}
