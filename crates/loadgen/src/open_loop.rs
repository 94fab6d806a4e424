//! Open loop: N simulated agents, each heartbeating every `interval` with jitter, so the
//! offered rate is fixed (N / interval per second) whatever the server does. Each request
//! leaves at its scheduled time and its latency is measured from that time, so queueing
//! (in the server or waiting for a pooled connection) shows in the figures instead of
//! slowing the generator down (no coordinated omission). A few driver tasks each own a
//! share of the agents, a timer heap and their requests in flight; bodies and headers are
//! built once. Prints one line per second and a summary with exact percentiles.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use tokio::sync::Semaphore;

use crate::outcome::{percentile_ms, Errors, Outcome};

/// The longest a heartbeat may wait for a connection before it is counted as timed out.
const MAX_QUEUED: Duration = Duration::from_secs(10);

/// How the load is shaped.
pub struct Shape {
    pub interval: Duration,
    pub jitter: Duration,
    pub duration: Duration,
    pub drivers: usize,
    /// Requests on the wire at once (the connection pool's bound); later ones wait for a
    /// connection, and that wait counts in their latency.
    pub max_in_flight: usize,
}

/// A heartbeat ready to send: its `Authorization` header and JSON body.
struct Prepared {
    auth: HeaderValue,
    body: bytes::Bytes,
}

/// One second's figures (offered by schedule time, the rest by completion time).
#[derive(Default)]
struct Second {
    offered: u64,
    completed: u64,
    errors: Errors,
    lat_us: Vec<u32>,
}

/// What the drivers share with the reporter.
struct Tally {
    start: Instant,
    seconds: Mutex<Vec<Second>>,
}

impl Tally {
    fn at(&self, when: Instant, f: impl FnOnce(&mut Second)) {
        let s = when.saturating_duration_since(self.start).as_secs() as usize;
        let mut secs = self.seconds.lock().unwrap_or_else(|e| e.into_inner());
        if secs.len() <= s {
            secs.resize_with(s + 1, Second::default);
        }
        f(&mut secs[s]);
    }
}

/// The run's totals.
pub struct Summary {
    pub offered: u64,
    pub completed: u64,
    pub errors: Errors,
    pub p99_ms: f64,
}

/// Runs the open loop over `tokens` (`(agent_id, token)`) and prints its report.
pub async fn run(
    client: &reqwest::Client,
    base: &str,
    tokens: &[(String, String)],
    shape: &Shape,
) -> anyhow::Result<Summary> {
    let n = tokens.len();
    println!(
        "open loop: {n} agents, one heartbeat every {:?} ± {:?} each ({:.0}/s offered), {} s, \
         at most {} on the wire",
        shape.interval,
        shape.jitter,
        n as f64 / shape.interval.as_secs_f64(),
        shape.duration.as_secs(),
        shape.max_in_flight
    );
    let mut shares: Vec<Vec<Prepared>> = (0..shape.drivers).map(|_| Vec::new()).collect();
    for (i, (id, token)) in tokens.iter().enumerate() {
        let body = serde_json::json!({"agent_id": id, "status": "healthy", "metrics": {
            "cpu_usage": (i % 100) as f64, "memory_usage": 42.5, "disk_usage": 61.0,
            "uptime_hours": 12, "latency_ms": 3}});
        shares[i % shape.drivers].push(Prepared {
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
            body: serde_json::to_vec(&body)?.into(),
        });
    }
    let url = reqwest::Url::parse(&format!("{base}/api/heartbeat"))?;
    let start = Instant::now();
    let tally = Arc::new(Tally {
        start,
        seconds: Mutex::new(Vec::new()),
    });
    let sem = Arc::new(Semaphore::new(shape.max_in_flight));
    let stop_at = start + shape.duration;
    let drivers: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(d, share)| {
            let driver = Driver {
                client: client.clone(),
                url: url.clone(),
                share,
                tally: tally.clone(),
                sem: sem.clone(),
                interval: shape.interval,
                jitter: shape.jitter,
                stop_at,
            };
            tokio::spawn(driver.run(d as u64))
        })
        .collect();
    let printed = Arc::new(AtomicUsize::new(0));
    let reporter = tokio::spawn(report_each_second(
        tally.clone(),
        sem.clone(),
        shape.max_in_flight,
        printed.clone(),
    ));
    let cpu0 = crate::self_cpu_secs();
    for d in drivers {
        d.await?;
    }
    reporter.abort();
    let cpu = crate::self_cpu_secs() - cpu0;
    let secs = std::mem::take(&mut *tally.seconds.lock().unwrap_or_else(|e| e.into_inner()));
    for (k, s) in secs
        .iter()
        .enumerate()
        .skip(printed.load(Ordering::Relaxed))
    {
        print_second(k, s, 0);
    }
    let elapsed = start.elapsed();
    println!(
        "load generator CPU during the open loop: {cpu:.1} s in {:.1} s ({:.0} % of one core)",
        elapsed.as_secs_f64(),
        100.0 * cpu / elapsed.as_secs_f64()
    );
    Ok(summarize(secs, elapsed))
}

/// One driver: its agents' next due times in a heap, their requests in flight.
struct Driver {
    client: reqwest::Client,
    url: reqwest::Url,
    share: Vec<Prepared>,
    tally: Arc<Tally>,
    sem: Arc<Semaphore>,
    interval: Duration,
    jitter: Duration,
    stop_at: Instant,
}

impl Driver {
    async fn run(self, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let start = self.tally.start;
        let mut due: BinaryHeap<Reverse<(Instant, usize)>> = (0..self.share.len())
            .map(|a| Reverse((start + self.interval.mul_f64(rng.gen::<f64>()), a)))
            .collect();
        let mut in_flight = FuturesUnordered::new();
        loop {
            let next = due
                .peek()
                .map(|Reverse((t, _))| *t)
                .filter(|t| *t < self.stop_at);
            if next.is_none() && in_flight.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(next.unwrap_or(self.stop_at).into()), if next.is_some() => {
                    let now = Instant::now();
                    while let Some(&Reverse((t, a))) = due.peek() {
                        if t > now || t >= self.stop_at {
                            break;
                        }
                        due.pop();
                        self.tally.at(t, |s| s.offered += 1);
                        in_flight.push(self.send(a, t));
                        let j = self.jitter.as_secs_f64() * (2.0 * rng.gen::<f64>() - 1.0);
                        let next = self.interval.as_secs_f64() + j;
                        due.push(Reverse((t + Duration::from_secs_f64(next.max(0.0)), a)));
                    }
                }
                Some((done, lat, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                    self.tally.at(done, |s| {
                        if outcome == Outcome::Ok {
                            s.completed += 1;
                            s.lat_us.push(lat);
                        } else {
                            s.errors.add(outcome);
                        }
                    });
                }
                else => break,
            }
        }
    }

    /// Sends agent `a`'s heartbeat due at `t`; yields (completion, µs since `t`, outcome).
    fn send(
        &self,
        a: usize,
        t: Instant,
    ) -> impl std::future::Future<Output = (Instant, u32, Outcome)> {
        let p = &self.share[a];
        let req = self
            .client
            .post(self.url.clone())
            .header(AUTHORIZATION, p.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(p.body.clone());
        let sem = self.sem.clone();
        async move {
            // A request that could not even leave within MAX_QUEUED counts as timed out
            // unsent: an overloaded server then costs bounded memory and drain time.
            let permit = tokio::time::timeout_at((t + MAX_QUEUED).into(), sem.acquire_owned());
            let outcome = match permit.await {
                Ok(Ok(_permit)) => Outcome::of(req.send().await).await,
                Ok(Err(_)) => Outcome::Transport,
                Err(_) => Outcome::Timeout,
            };
            let done = Instant::now();
            let lat = done.saturating_duration_since(t).as_micros();
            (done, lat.min(u128::from(u32::MAX)) as u32, outcome)
        }
    }
}

/// Prints second k's line a little after it ended; `printed` counts the lines printed.
async fn report_each_second(
    tally: Arc<Tally>,
    sem: Arc<Semaphore>,
    max: usize,
    printed: Arc<AtomicUsize>,
) {
    println!(
        "{:>5} {:>8} {:>9} {:>8} {:>8} {:>9}  errors",
        "s", "offered", "completed", "p50 ms", "p99 ms", "on wire"
    );
    for k in 0usize.. {
        let end = tally.start + Duration::from_millis(k as u64 * 1000 + 1200);
        tokio::time::sleep_until(end.into()).await;
        let on_wire = max - sem.available_permits();
        let secs = tally.seconds.lock().unwrap_or_else(|e| e.into_inner());
        print_second(k, secs.get(k).unwrap_or(&Second::default()), on_wire);
        printed.store(k + 1, Ordering::Relaxed);
    }
}

fn print_second(k: usize, s: &Second, on_wire: usize) {
    let mut lat = s.lat_us.clone();
    lat.sort_unstable();
    println!(
        "{:>5} {:>8} {:>9} {:>8.2} {:>8.2} {:>9}  {}",
        k,
        s.offered,
        s.completed,
        percentile_ms(&lat, 50.0),
        percentile_ms(&lat, 99.0),
        on_wire,
        s.errors
    );
}

fn summarize(secs: Vec<Second>, elapsed: Duration) -> Summary {
    let (mut offered, mut completed, mut errors) = (0, 0, Errors::default());
    let mut worst = (0usize, 0.0f64);
    let mut all = Vec::new();
    for (k, mut s) in secs.into_iter().enumerate() {
        offered += s.offered;
        completed += s.completed;
        errors.merge(&s.errors);
        s.lat_us.sort_unstable();
        let p99 = percentile_ms(&s.lat_us, 99.0);
        if p99 > worst.1 {
            worst = (k, p99);
        }
        all.extend(s.lat_us);
    }
    all.sort_unstable();
    let p99 = percentile_ms(&all, 99.0);
    println!(
        "open loop summary: offered {offered} ({:.0}/s), completed {completed} ({:.0}/s) in {:.1} s; errors: {errors}",
        offered as f64 / elapsed.as_secs_f64(),
        completed as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "open loop latency from schedule: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; worst second {} (p99 {:.2} ms)",
        percentile_ms(&all, 50.0),
        percentile_ms(&all, 90.0),
        p99,
        percentile_ms(&all, 99.9),
        percentile_ms(&all, 100.0),
        worst.0,
        worst.1
    );
    let met = p99 <= 50.0 && errors.total() == 0 && completed == offered;
    println!(
        "open loop target (p99 <= 50 ms, 0 errors): {}",
        if met { "met" } else { "NOT met" }
    );
    Summary {
        offered,
        completed,
        errors,
        p99_ms: p99,
    }
}
