//! What durable control-plane writes cost on SQLite: the same writes through the real
//! store, committed with `synchronous=FULL` (what the server uses) and with `NORMAL`
//! (what it used before), alternating in one run so the machine's noise hits both.
//! Prints writes per second and latency percentiles; not a test.
//!
//!   cargo bench -p openclaw-fleet --bench durability [-- SECONDS]

use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_fleet::access::activity::entry;
use openclaw_fleet::access::{Action, Actor};
use openclaw_fleet::store::sqlite::{SqliteDurability, SqliteStore};
use openclaw_fleet::store::{HandshakeAttempt, HistoryEntry, NewAgent, Store, UserRow};
use sqlx::sqlite::SqliteSynchronous;

const OWNER: &str = "00000000-0000-4000-8000-000000000001";
/// About the size of a sealed agent secret and of a small sealed config.
const SEALED_SECRET: &str =
    "ocf1.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let dur = Duration::from_secs(seconds);
    println!(
        "{:<8} {:>7} {:>12} {:>9} {:>9}",
        "commit", "writers", "writes/s", "p50 ms", "p99 ms"
    );
    let mut rates: Vec<(&str, usize, f64)> = Vec::new();
    for round in 0..2 {
        for (name, level) in [
            ("NORMAL", SqliteSynchronous::Normal),
            ("FULL", SqliteSynchronous::Full),
        ] {
            for writers in [1, 8] {
                let (rate, p50, p99) = run(level, writers, dur).await?;
                println!(
                    "{name:<8} {writers:>7} {rate:>12.0} {p50:>9.2} {p99:>9.2}   (round {round})"
                );
                rates.push((name, writers, rate));
            }
        }
    }
    for writers in [1, 8] {
        let mean = |mode: &str| {
            let v: Vec<f64> = rates
                .iter()
                .filter(|r| r.0 == mode && r.1 == writers)
                .map(|r| r.2)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        println!(
            "{writers} writer(s): FULL keeps {:.0} % of NORMAL's writes/s",
            100.0 * mean("FULL") / mean("NORMAL")
        );
    }
    Ok(())
}

/// `writers` tasks each loop over one agent of their own: save a config (with its history
/// row), record a handshake (used signature + token), rotate the secret; every call one
/// committed transaction.
async fn run(
    level: SqliteSynchronous,
    writers: usize,
    dur: Duration,
) -> anyhow::Result<(f64, f64, f64)> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
    let durability = SqliteDurability {
        control: level,
        telemetry: SqliteSynchronous::Normal,
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect_with(&url, durability).await?);
    store
        .create_user(&UserRow {
            id: OWNER.into(),
            email: "bench@example.com".into(),
            password_hash: "x".into(),
            kdf: None,
            key_check: None,
            created_at: 0,
            disabled_at: None,
        })
        .await?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let agent = format!("00000000-0000-4000-8000-{:012}", w + 2);
            store
                .create_agent(
                    &NewAgent {
                        id: agent.clone(),
                        owner_id: OWNER.into(),
                        fleet_id: None,
                        name: format!("bench-{w}"),
                        policy_profile: "dev".into(),
                        gateway_url: None,
                        heartbeat_interval: 30,
                        identity: openclaw_fleet::store::IDENTITY_HMAC,
                        secret_sealed: Some(SEALED_SECRET.into()),
                        enrollment: None,
                        created_at: 0,
                    },
                    &entry(OWNER, 0, Action::AgentCreated, Actor::Operator),
                )
                .await?;
            let config = "c".repeat(600);
            let (mut latencies, mut version) = (Vec::new(), 0i64);
            while start.elapsed() < dur {
                let t = Instant::now();
                match latencies.len() % 3 {
                    0 => {
                        let history = HistoryEntry {
                            sealed: config.clone(),
                            saved_by: "bench".into(),
                            saved_at: 0,
                        };
                        store
                            .save_config(
                                OWNER,
                                &agent,
                                version,
                                &config,
                                &history,
                                &entry(OWNER, 0, Action::ConfigSaved, Actor::Operator),
                            )
                            .await?;
                        version += 1;
                    }
                    1 => {
                        let n = latencies.len();
                        store
                            .write_batch(
                                &[HandshakeAttempt {
                                    agent_id: agent.clone(),
                                    signature: format!("{n:064}"),
                                    token_hash: format!("{w:032}{n:032}"),
                                    now: 0,
                                    expires_at: 3600,
                                }],
                                &mut |_, creds| creds.is_some(),
                            )
                            .await?;
                    }
                    _ => {
                        let e = entry(OWNER, 0, Action::SecretRotated, Actor::Operator);
                        store
                            .rotate_secret(OWNER, &agent, SEALED_SECRET, &e)
                            .await?;
                    }
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all[((p / 100.0) * (all.len() - 1) as f64).round() as usize];
    Ok((all.len() as f64 / elapsed, pct(50.0), pct(99.0)))
}
