//! One benchmark phase: `concurrency` workers issue requests back to back for a fixed
//! time; every latency is kept, so percentiles are exact.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Report {
    pub name: &'static str,
    pub elapsed: Duration,
    pub latencies_ms: Vec<f64>,
    pub errors: usize,
}

impl Report {
    pub fn rate(&self) -> f64 {
        (self.latencies_ms.len() + self.errors) as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let idx = ((p / 100.0) * (self.latencies_ms.len() - 1) as f64).round() as usize;
        self.latencies_ms[idx]
    }
}

/// Runs `make(worker, n)` requests from each worker until `duration` has passed.
pub async fn run_phase<F, Fut>(
    name: &'static str,
    concurrency: usize,
    duration: Duration,
    make: F,
) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    eprintln!(
        "phase: {name} ({concurrency} in flight, {}s)…",
        duration.as_secs()
    );
    let make = Arc::new(make);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut n) = (Vec::new(), 0usize, 0u64);
            while start.elapsed() < duration {
                let t = Instant::now();
                if make(worker, n).await {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    let mut report = Report {
        name,
        elapsed: Duration::ZERO,
        latencies_ms: Vec::new(),
        errors: 0,
    };
    for t in tasks {
        if let Ok((lat, errors)) = t.await {
            report.latencies_ms.extend(lat);
            report.errors += errors;
        }
    }
    report.elapsed = start.elapsed();
    report.latencies_ms.sort_by(|a, b| a.total_cmp(b));
    report
}
