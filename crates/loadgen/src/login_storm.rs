//! `--login-storm`: does password hashing stall the agents? Heartbeat latency measured
//! alone, then while 20 clients send wrong passwords without pause (each from its own
//! loopback addresses, moving on before the login limits refuse them, so every attempt
//! reaches the Argon2 check), then alone again. Prints heartbeat p50/p99 for each phase
//! and the ratio of p99 under the storm to the mean p99 without it (target ≤ 2×).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use openclaw_fleet_protocol::{handshake_body, AgentId, AgentSecret};
use serde_json::{json, Value};

use crate::measure::{run_phase, Report};

/// Parallel clients guessing passwords.
const GUESSERS: usize = 20;
/// Attempts per address: below the server's 5 wrong passwords per (account, address).
const TRIES_PER_ADDRESS: usize = 4;

pub struct Setup<'a> {
    pub base: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub agents: usize,
    pub concurrency: usize,
    pub seconds: u64,
}

pub async fn run(s: Setup<'_>) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(s.concurrency * 2)
        .build()?;
    let tokens = Arc::new(agent_tokens(&client, &s).await?);
    let dur = Duration::from_secs(s.seconds);

    let before = heartbeats(
        "heartbeat alone",
        &client,
        s.base,
        &tokens,
        s.concurrency,
        dur,
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let (checked, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let storm: Vec<_> = (0..GUESSERS)
        .map(|guesser| {
            let url = format!("{}/api/auth/login", s.base);
            let body = json!({"email": s.email, "password": "certainly not the password"});
            let (stop, checked, refused) = (stop.clone(), checked.clone(), refused.clone());
            tokio::spawn(async move {
                let mut client = None;
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if n % TRIES_PER_ADDRESS == 0 {
                        client = guesser_client(guesser, n / TRIES_PER_ADDRESS).ok();
                    }
                    let Some(client) = &client else { break };
                    match client
                        .post(&url)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                    {
                        Ok(401) => checked.fetch_add(1, Ordering::Relaxed),
                        _ => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let during = heartbeats(
        "heartbeat + 20 logins",
        &client,
        s.base,
        &tokens,
        s.concurrency,
        dur,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in storm {
        let _ = task.await;
    }
    let after = heartbeats(
        "heartbeat alone again",
        &client,
        s.base,
        &tokens,
        s.concurrency,
        dur,
    )
    .await;

    println!(
        "{:<24} {:>10} {:>9} {:>9} {:>8}",
        "phase", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for r in [&before, &during, &after] {
        println!(
            "{:<24} {:>10.0} {:>9.2} {:>9.2} {:>8}",
            r.name,
            r.rate(),
            r.percentile(50.0),
            r.percentile(99.0),
            r.errors
        );
    }
    let (checked, refused) = (
        checked.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    println!(
        "wrong logins checked (401): {checked} ({:.0}/s); refused or failed: {refused}",
        checked as f64 / during.elapsed.as_secs_f64()
    );
    let quiet = (before.percentile(99.0) + after.percentile(99.0)) / 2.0;
    println!(
        "heartbeat p99 under the storm: {:.2}× the p99 without it (target ≤ 2×)",
        during.percentile(99.0) / quiet
    );
    anyhow::ensure!(
        before.errors + during.errors + after.errors == 0,
        "heartbeats failed"
    );
    Ok(())
}

/// A client whose connections come from a loopback address of its own (62 500 per guesser).
fn guesser_client(guesser: usize, n: usize) -> reqwest::Result<reqwest::Client> {
    let ip = Ipv4Addr::new(
        127,
        100 + guesser as u8,
        ((n / 250) % 250) as u8,
        1 + (n % 250) as u8,
    );
    reqwest::Client::builder()
        .local_address(IpAddr::V4(ip))
        .build()
}

async fn heartbeats(
    name: &'static str,
    client: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<(String, String)>>,
    concurrency: usize,
    dur: Duration,
) -> Report {
    let (client, url, tokens) = (
        client.clone(),
        format!("{base}/api/heartbeat"),
        tokens.clone(),
    );
    run_phase(name, concurrency, dur, move |worker, n| {
        let k = n as usize * concurrency + worker;
        let (id, token) = &tokens[k % tokens.len()];
        let body = json!({"agent_id": id, "status": "healthy", "metrics": {
            "cpu_usage": (k % 100) as f64, "memory_usage": 42.5, "uptime_hours": 12}});
        let req = client.post(&url).bearer_auth(token).json(&body);
        async move { req.send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await
}

/// Logs in, creates the simulated agents and handshakes each once.
async fn agent_tokens(
    client: &reqwest::Client,
    s: &Setup<'_>,
) -> anyhow::Result<Vec<(String, String)>> {
    let base = s.base;
    let owner = crate::login(client, base, s.email, s.password).await?;
    let owner = owner.as_str();
    eprintln!("creating {} simulated agents…", s.agents);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mut tokens = Vec::with_capacity(s.agents);
    for i in 0..s.agents {
        let created: Value = client
            .post(format!("{base}/api/agents"))
            .bearer_auth(owner)
            .json(&json!({"name": format!("storm-{i}"), "policy_profile": "ops"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = AgentId::parse(created["agent"]["id"].as_str().unwrap_or_default())?;
        let secret = AgentSecret::parse(created["agent_secret"].as_str().unwrap_or_default())?;
        let answer: Value = client
            .post(format!("{base}/api/agents/handshake"))
            .json(&handshake_body(&id, now, &secret))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = answer["token"].as_str().context("no agent token")?;
        tokens.push((id.to_string(), token.to_string()));
    }
    Ok(tokens)
}
