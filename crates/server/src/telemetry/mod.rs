//! Operational figures for Prometheus and the HTTP access log.
//!
//! The figures go through the `metrics` facade: an instrumentation point is one line
//! (`metrics::counter!(names::X).increment(1)`, or a guard from here), and costs nothing
//! while no recorder is installed — the recorder is installed only when `/metrics` is
//! served (`metrics_token` or `--metrics-listen`). It is process-wide, like the figures
//! it reports: one server process, one registry.

pub mod http;

use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Every figure's name, so a dashboard query and the code that feeds it agree.
pub mod names {
    /// Gauge, label `status` (pending, healthy, idle, error, offline).
    pub const AGENTS: &str = "openclaw_fleet_agents";
    /// Counter, label `outcome` (`accepted` or the API error code).
    pub const HANDSHAKES: &str = "openclaw_fleet_handshakes_total";
    /// Counter, label `outcome` (`accepted` or the API error code).
    pub const HEARTBEATS: &str = "openclaw_fleet_heartbeats_total";
    /// Counter: heartbeat history samples dropped because the queue waiting for the
    /// database was full (the agents' latest states are kept regardless).
    pub const HEARTBEAT_SAMPLES_DROPPED: &str = "openclaw_fleet_heartbeat_samples_dropped_total";
    /// Gauge: heartbeat history samples the last flush took from the queue.
    pub const HEARTBEAT_QUEUE: &str = "openclaw_fleet_heartbeat_queue";
    /// Histogram: operations per group-commit transaction (handshake batches and
    /// heartbeat flushes).
    pub const WRITE_BATCH_SIZE: &str = "openclaw_fleet_write_batch_size";
    /// Histogram: seconds per group-commit transaction.
    pub const WRITE_BATCH_SECONDS: &str = "openclaw_fleet_write_batch_seconds";
    /// Gauge: open dashboard event streams.
    pub const SSE_CLIENTS: &str = "openclaw_fleet_sse_clients";
    /// Gauge: agent config long-polls in progress.
    pub const LONG_POLL_WAITERS: &str = "openclaw_fleet_long_poll_waiters";
    /// Gauges: database connections open, and those of them in use.
    pub const DB_POOL_CONNECTIONS: &str = "openclaw_fleet_db_pool_connections";
    pub const DB_POOL_IN_USE: &str = "openclaw_fleet_db_pool_in_use";
    /// Counter, label `route`: requests refused with 429.
    pub const RATE_LIMITED: &str = "openclaw_fleet_rate_limited_total";
    /// Counter: repeated events (failed sign-ins, plaintext secrets) not written to the
    /// activity log because its queue was full.
    pub const ACTIVITY_DROPPED: &str = "openclaw_fleet_activity_dropped_total";
    /// Counter: log lines dropped because the log's writer thread fell behind by more
    /// than its buffer (`serve` never waits for a log write: see `main`).
    pub const LOG_LINES_DROPPED: &str = "openclaw_fleet_log_lines_dropped_total";
}

static LOG_DROPS: OnceLock<tracing_appender::non_blocking::ErrorCounter> = OnceLock::new();

/// Remembers the log writer's count of dropped lines, for [`observe_log`].
pub fn count_dropped_log_lines(counter: tracing_appender::non_blocking::ErrorCounter) {
    let _ = LOG_DROPS.set(counter);
}

/// Sets [`names::LOG_LINES_DROPPED`] from the log writer (no I/O; nothing while the log
/// is written in line).
pub fn observe_log() {
    if let Some(drops) = LOG_DROPS.get() {
        metrics::counter!(names::LOG_LINES_DROPPED).absolute(drops.dropped_lines() as u64);
    }
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once) and returns its handle.
pub fn install() -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let size_buckets = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
    let second_buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::WRITE_BATCH_SIZE.into()), &size_buckets)?
        .set_buckets_for_metric(
            Matcher::Full(names::WRITE_BATCH_SECONDS.into()),
            &second_buckets,
        )?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    Ok(HANDLE.get_or_init(|| handle))
}

/// The installed recorder, when figures are being collected.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

/// Counts one more of something in progress (`SSE_CLIENTS`, `LONG_POLL_WAITERS`) for
/// as long as it lives.
pub struct InProgress(&'static str);

impl InProgress {
    pub fn start(gauge: &'static str) -> Self {
        metrics::gauge!(gauge).increment(1.0);
        Self(gauge)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// Records a group-commit batch: its size at once, its duration when dropped.
pub struct BatchTimer(Instant);

impl BatchTimer {
    pub fn start(operations: usize) -> Self {
        metrics::histogram!(names::WRITE_BATCH_SIZE).record(operations as f64);
        Self(Instant::now())
    }
}

impl Drop for BatchTimer {
    fn drop(&mut self) {
        metrics::histogram!(names::WRITE_BATCH_SECONDS).record(self.0.elapsed().as_secs_f64());
    }
}

/// The API error code of an answer, left in its extensions for [`http::count_outcomes`].
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Wraps a stream so that it counts as one `gauge` while it is open.
pub fn counted<S>(stream: S, gauge: &'static str) -> impl futures::Stream<Item = S::Item>
where
    S: futures::Stream,
{
    use futures::StreamExt;
    let guard = InProgress::start(gauge);
    stream.map(move |item| {
        let _open = &guard;
        item
    })
}
