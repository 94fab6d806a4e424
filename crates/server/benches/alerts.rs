//! What alert evaluation costs at 100 000 agents: the real evaluator
//! (`openclaw_fleet::alerts::engine`) fed ten simulated minutes of heartbeats (every agent
//! every 30 s, 1 000 owners with an offline rule and a CPU rule each, 1 % of agents going
//! silent and 1 % running hot) and a tick each second, against the baseline it replaces:
//! a scan of every agent's last heartbeat on every tick. Prints heartbeats per second,
//! the cost of a tick, the notices, and the tick ratio; not a test.
//!
//!   cargo bench -p openclaw-fleet --bench alerts [-- AGENTS]

use std::sync::Arc;
use std::time::Instant;

use openclaw_fleet::alerts::engine::{Engine, Facts};
use openclaw_fleet::alerts::{Condition, Rule, WebhookKind};

const OWNERS: usize = 1000;
const INTERVAL: i64 = 30;
const MINUTES: i64 = 10;

fn rule(owner: usize, condition: Condition, threshold: f64, for_secs: i64) -> Arc<Rule> {
    Arc::new(Rule {
        id: format!("rule-{owner}-{}", condition.as_str()),
        owner_id: format!("owner-{owner}"),
        fleet_id: None,
        name: "bench".into(),
        condition,
        threshold,
        for_secs,
        cooldown_secs: 600,
        kind: WebhookKind::Generic,
        host: "h".into(),
        url_sealed: String::new(),
        secret_sealed: String::new(),
    })
}

fn main() {
    let agents: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let ids: Vec<String> = (0..agents).map(|i| format!("{i:08}-agent")).collect();
    let owner_of = |i: usize| format!("owner-{}", i % OWNERS);
    let mut e = Engine::default();
    for o in 0..OWNERS {
        e.set_rules(
            &format!("owner-{o}"),
            vec![
                rule(o, Condition::AgentOffline, 0.0, 120),
                rule(o, Condition::CpuAbove, 90.0, 60),
            ],
        );
    }
    let start = 1_000_000i64;
    let seeded = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        e.seed(id, &owner_of(i), None, Some(start - (i as i64 % INTERVAL)));
    }
    let seed_ms = seeded.elapsed().as_secs_f64() * 1e3;

    // Ten minutes: each second, the agents whose turn it is heartbeat, then a tick.
    let (mut beats, mut notices) = (0u64, 0u64);
    let (mut beat_time, mut tick_time) = (0f64, 0f64);
    for s in 0..MINUTES * 60 {
        let now = start + s;
        let t = Instant::now();
        for (i, id) in ids.iter().enumerate() {
            if (i as i64) % INTERVAL != s % INTERVAL || (i % 100 == 7 && s > 60) {
                continue; // not its turn, or one of the 1 % gone silent
            }
            let cpu = if i % 100 == 3 { 97.0 } else { 20.0 };
            let facts = Facts {
                cpu: Some(cpu),
                memory: Some(40.0),
                gateway_unreachable: Some(false),
                ..Facts::default()
            };
            notices += e.heartbeat(id, &owner_of(i), None, &facts, now).len() as u64;
            beats += 1;
        }
        beat_time += t.elapsed().as_secs_f64();
        let t = Instant::now();
        notices += e.tick(now).len() as u64;
        tick_time += t.elapsed().as_secs_f64();
    }
    let ticks = (MINUTES * 60) as f64;

    // The baselines: every tick looks at every agent: a flat array of last heartbeats (the
    // least a scan can do), and what a scan must really do (the agent's record by id, its
    // owner's rules, each offline rule checked).
    let last_seen: Vec<i64> = (0..agents as i64).map(|i| start - i % INTERVAL).collect();
    let t = Instant::now();
    let mut due = 0u64;
    for s in 0..MINUTES * 60 {
        let now = start + s;
        due += last_seen.iter().filter(|&&l| now - l >= 120).count() as u64;
    }
    let flat_tick = t.elapsed().as_secs_f64() / ticks;
    let records: std::collections::HashMap<&str, (String, i64)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), (owner_of(i), start - i as i64 % INTERVAL)))
        .collect();
    let rules: std::collections::HashMap<String, Vec<Arc<Rule>>> = (0..OWNERS)
        .map(|o| {
            (
                format!("owner-{o}"),
                vec![
                    rule(o, Condition::AgentOffline, 0.0, 120),
                    rule(o, Condition::CpuAbove, 90.0, 60),
                ],
            )
        })
        .collect();
    let scanned = 60; // a minute of ticks is enough to time it
    let t = Instant::now();
    for s in 0..scanned {
        let now = start + s;
        for (_, (owner, seen)) in records.iter() {
            for r in rules.get(owner).into_iter().flatten() {
                if r.condition == Condition::AgentOffline && now - seen >= r.for_secs {
                    due += 1;
                }
            }
        }
    }
    let scan_tick = t.elapsed().as_secs_f64() / scanned as f64;
    std::hint::black_box(due);

    let (held, pending) = e.sizes();
    println!("agents {agents}, owners {OWNERS}, {MINUTES} simulated minutes, heartbeat every {INTERVAL} s");
    println!("seed (last_seen at start)  {seed_ms:>10.1} ms");
    println!(
        "heartbeats                 {beats:>10}  ({:.0}/s evaluated, {:.2} µs each)",
        beats as f64 / beat_time,
        beat_time / beats as f64 * 1e6
    );
    println!(
        "tick (deadlines due)       {:>10.1} µs mean",
        tick_time / ticks * 1e6
    );
    println!(
        "tick, flat-array scan      {:>10.1} µs mean",
        flat_tick * 1e6
    );
    println!(
        "tick, record scan          {:>10.1} µs mean",
        scan_tick * 1e6
    );
    println!(
        "tick ratio (record scan / engine) {:>5.1}x",
        scan_tick / (tick_time / ticks)
    );
    println!("notices                    {notices:>10}  (agents held {held}, deadlines pending {pending})");
    println!(
        "needed at this size        {:>10.0} heartbeats/s",
        agents as f64 / INTERVAL as f64
    );
}
