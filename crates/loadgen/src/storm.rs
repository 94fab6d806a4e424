//! Reconnect storm: every simulated agent handshakes at once, as after an outage, through
//! at most `max_in_flight` connections. An agent whose attempt fails retries as the real
//! agent does (after `Retry-After` on 429, else a doubling back-off with jitter), signing
//! a fresh timestamp each time. Prints the time until every agent is back, how fast they
//! came back, and the failures by class (the target: all back within 60 s, no 5xx).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use openclaw_fleet_protocol::handshake_body;
use rand::Rng;
use serde_json::Value;

use crate::outcome::{percentile_ms, Errors, Outcome};
use crate::provision::Agent;

/// Attempts per agent before the storm gives up on it.
const MAX_ATTEMPTS: u32 = 20;

/// Runs the storm; returns each agent's `(agent_id, token)` for what follows.
pub async fn run(
    client: &reqwest::Client,
    base: &str,
    agents: &[Agent],
    max_in_flight: usize,
) -> anyhow::Result<(Vec<(String, String)>, Errors)> {
    let n = agents.len();
    println!("reconnect storm: {n} agents handshake at once ({max_in_flight} on the wire)");
    let url = format!("{base}/api/agents/handshake");
    let start = Instant::now();
    let back = AtomicUsize::new(0);
    let results: Vec<_> = futures::stream::iter(agents)
        .map(|a| {
            let (url, back) = (&url, &back);
            async move {
                let mut errors = Errors::default();
                let mut backoff = Duration::from_millis(200);
                for attempt in 0..MAX_ATTEMPTS {
                    let body =
                        handshake_body(&a.id, crate::unix_now() + u64::from(attempt), &a.secret);
                    let r = client.post(url).json(&body).send().await;
                    let retry_after = r.as_ref().ok().and_then(|r| {
                        r.headers()
                            .get("retry-after")?
                            .to_str()
                            .ok()?
                            .parse::<u64>()
                            .ok()
                    });
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let answer: Value = r.json().await?;
                            let token = answer["token"].as_str().context("no token")?;
                            let k = back.fetch_add(1, Ordering::Relaxed) + 1;
                            if k % (n / 10).max(1) == 0 {
                                eprintln!(
                                    "  {k} back after {:.1} s",
                                    start.elapsed().as_secs_f64()
                                );
                            }
                            return anyhow::Ok((
                                a.id.to_string(),
                                token.to_string(),
                                start.elapsed(),
                                errors,
                            ));
                        }
                        r => {
                            let o = Outcome::of(r).await;
                            errors.add(o);
                            let wait = match retry_after {
                                Some(s) if o == Outcome::Limited => Duration::from_secs(s),
                                _ => backoff.mul_f64(0.5 + rand::thread_rng().gen::<f64>()),
                            };
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
                anyhow::bail!(
                    "agent {} not back after {MAX_ATTEMPTS} attempts: {errors}",
                    a.id
                )
            }
        })
        .buffer_unordered(max_in_flight)
        .collect()
        .await;
    let all_back = start.elapsed();
    let mut errors = Errors::default();
    let mut tokens = Vec::with_capacity(n);
    let mut back_us = Vec::with_capacity(n);
    for r in results {
        let (id, token, at, e) = r?;
        errors.merge(&e);
        tokens.push((id, token));
        back_us.push(at.as_micros().min(u128::from(u32::MAX)) as u32);
    }
    back_us.sort_unstable();
    let secs = all_back.as_secs_f64();
    println!(
        "reconnect storm: all {n} back in {secs:.1} s ({:.0} handshakes/s); back by p50 {:.1} s, p99 {:.1} s; failed attempts: {errors}",
        n as f64 / secs,
        percentile_ms(&back_us, 50.0) / 1000.0,
        percentile_ms(&back_us, 99.0) / 1000.0,
    );
    println!(
        "reconnect storm target (all back within 60 s, 0 5xx): {}",
        if secs <= 60.0 && errors.server_5xx == 0 {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok((tokens, errors))
}
