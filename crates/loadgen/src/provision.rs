//! Provisioning: N simulated agents created through the owner API, many requests in
//! flight at once, and their first tokens; each step timed, since at 100 000 agents
//! provisioning itself is a figure.

use std::time::Instant;

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use openclaw_fleet_protocol::{handshake_body, AgentId, AgentSecret};
use serde_json::{json, Value};

/// Creates in flight at once while provisioning.
pub const CREATE_CONCURRENCY: usize = 32;

/// One simulated agent's credentials.
pub struct Agent {
    pub id: AgentId,
    pub secret: AgentSecret,
}

/// Creates `n` agents named `{prefix}-{i}` under the owner, `CREATE_CONCURRENCY` at a time,
/// and prints how long it took.
pub async fn create_agents(
    client: &reqwest::Client,
    base: &str,
    owner: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<Agent>> {
    eprintln!("creating {n} simulated agents ({CREATE_CONCURRENCY} in flight)…");
    let start = Instant::now();
    let url = format!("{base}/api/agents");
    let agents: Vec<Agent> = futures::stream::iter(0..n)
        .map(|i| {
            let req = client
                .post(&url)
                .bearer_auth(owner)
                .json(&json!({"name": format!("{prefix}-{i}"), "policy_profile": "ops"}));
            async move {
                let created: Value = req.send().await?.error_for_status()?.json().await?;
                let id = AgentId::parse(created["agent"]["id"].as_str().unwrap_or_default())?;
                let secret =
                    AgentSecret::parse(created["agent_secret"].as_str().unwrap_or_default())?;
                anyhow::Ok(Agent { id, secret })
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect()
        .await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "provisioning: {n} agents created in {secs:.1} s ({:.0}/s, {CREATE_CONCURRENCY} in flight)",
        n as f64 / secs
    );
    Ok(agents)
}

/// Handshakes every agent once, signing timestamp `ts` (`concurrency` at a time), and
/// returns `(agent_id, token)`.
pub async fn tokens(
    client: &reqwest::Client,
    base: &str,
    agents: &[Agent],
    concurrency: usize,
    ts: u64,
) -> anyhow::Result<Vec<(String, String)>> {
    let url = format!("{base}/api/agents/handshake");
    let now = ts;
    futures::stream::iter(agents)
        .map(|a| {
            let req = client
                .post(&url)
                .json(&handshake_body(&a.id, now, &a.secret));
            let id = a.id.to_string();
            async move {
                let answer: Value = req.send().await?.error_for_status()?.json().await?;
                let token = answer["token"].as_str().context("no agent token")?;
                anyhow::Ok((id, token.to_string()))
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await
}
