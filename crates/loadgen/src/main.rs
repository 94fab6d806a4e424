//! `openclaw-fleet-loadgen`: drives simulated agents against a running server and prints
//! handshakes/s and heartbeats/s with p50/p99 latency, next to the server's no-op
//! endpoint (`/healthz`) measured in the same run, so the figures are ratios that hold
//! on a noisy machine.

mod login_storm;
mod measure;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use openclaw_fleet_protocol::{handshake_body, AgentId, AgentSecret};
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
}

struct Agent {
    id: AgentId,
    secret: AgentSecret,
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

    eprintln!("creating {} simulated agents…", args.agents);
    let mut agents = Vec::with_capacity(args.agents);
    for i in 0..args.agents {
        let created: Value = client
            .post(format!("{base}/api/agents"))
            .bearer_auth(&owner)
            .json(&json!({"name": format!("loadgen-{i}"), "policy_profile": "ops"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = AgentId::parse(created["agent"]["id"].as_str().unwrap_or_default())?;
        let secret = AgentSecret::parse(created["agent_secret"].as_str().unwrap_or_default())?;
        agents.push(Agent { id, secret });
    }
    let agents = Arc::new(agents);
    let dur = Duration::from_secs(args.seconds);

    let noop = {
        let (client, base) = (client.clone(), base.clone());
        run_phase("no-op GET /healthz", args.concurrency, dur, move |_, _| {
            let (client, url) = (client.clone(), format!("{base}/healthz"));
            async move { ok(client.get(url).send().await) }
        })
        .await
    };

    // Each (agent, timestamp) signs once: spread timestamps over the accepted window.
    let handshakes = {
        let (client, base, agents) = (client.clone(), base.clone(), agents.clone());
        let now = unix_now();
        run_phase("handshake", args.concurrency, dur, move |worker, n| {
            let k = n * args.concurrency as u64 + worker as u64;
            let agent = &agents[(k % agents.len() as u64) as usize];
            let ts = now - 50 + k / agents.len() as u64;
            let body = handshake_body(&agent.id, ts, &agent.secret);
            let (client, url) = (client.clone(), format!("{base}/api/agents/handshake"));
            async move { ok(client.post(url).json(&body).send().await) }
        })
        .await
    };

    eprintln!("handshaking every agent once for the heartbeat phase…");
    let mut tokens = Vec::with_capacity(agents.len());
    for a in agents.iter() {
        let body = handshake_body(&a.id, unix_now() + 55, &a.secret);
        let answer: Value = client
            .post(format!("{base}/api/agents/handshake"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens.push((
            a.id.to_string(),
            answer["token"].as_str().unwrap_or_default().to_string(),
        ));
    }
    let tokens = Arc::new(tokens);
    let heartbeats = {
        let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
        run_phase("heartbeat", args.concurrency, dur, move |worker, n| {
            let k = n as usize * args.concurrency + worker;
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

fn unix_now() -> u64 {
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
