//! Host metrics for the heartbeat: CPU, memory and the disk holding the
//! OpenClaw state directory (via sysinfo, refreshing only those), load
//! average, uptime, and the round trip of a GET to the local gateway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::Url;
use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, System};

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct HostMetrics {
    system: System,
    disks: Disks,
    state_dir: PathBuf,
    cpu_refreshed: Instant,
}

impl HostMetrics {
    pub fn new(state_dir: &Path) -> Self {
        let mut system = System::new();
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        Self {
            system,
            disks: Disks::new(),
            state_dir: state_dir.to_path_buf(),
            cpu_refreshed: Instant::now(),
        }
    }

    /// When a sample gives a meaningful CPU figure: usage is measured between
    /// two refreshes at least `MINIMUM_CPU_UPDATE_INTERVAL` apart.
    pub fn ready_at(&self) -> Instant {
        self.cpu_refreshed + sysinfo::MINIMUM_CPU_UPDATE_INTERVAL
    }

    /// `cpu_usage`, `memory_usage`, `disk_usage` (percent), `load_avg`,
    /// `uptime_hours`.
    pub fn sample(&mut self) -> BTreeMap<String, f64> {
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        self.cpu_refreshed = Instant::now();
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.disks
            .refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
        let mut out = BTreeMap::new();
        out.insert(
            "cpu_usage".into(),
            percent(self.system.global_cpu_usage() as f64),
        );
        let total = self.system.total_memory();
        if total > 0 {
            let used = self.system.used_memory() as f64 / total as f64 * 100.0;
            out.insert("memory_usage".into(), percent(used));
        }
        if let Some(disk) = disk_usage(&self.disks, &self.state_dir) {
            out.insert("disk_usage".into(), percent(disk));
        }
        out.insert(
            "load_avg".into(),
            round2(System::load_average().one.max(0.0)),
        );
        out.insert(
            "uptime_hours".into(),
            round2(System::uptime() as f64 / 3600.0),
        );
        out
    }
}

/// Used share of the filesystem whose mount point is the longest prefix of
/// `dir` (or of its nearest existing ancestor).
fn disk_usage(disks: &Disks, dir: &Path) -> Option<f64> {
    let dir = dir
        .ancestors()
        .find_map(|p| p.canonicalize().ok())
        .unwrap_or_else(|| PathBuf::from("/"));
    let disk = disks
        .list()
        .iter()
        .filter(|d| dir.starts_with(d.mount_point()) && d.total_space() > 0)
        .max_by_key(|d| d.mount_point().as_os_str().len())?;
    let used = disk.total_space().saturating_sub(disk.available_space());
    Some(used as f64 / disk.total_space() as f64 * 100.0)
}

fn percent(v: f64) -> f64 {
    if v.is_finite() {
        (v.clamp(0.0, 100.0) * 10.0).round() / 10.0
    } else {
        0.0
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Times a GET to the local OpenClaw gateway. Any HTTP answer counts as the
/// gateway being up; no proxy, no redirects, a short timeout.
pub struct GatewayProbe {
    http: reqwest::Client,
    url: Url,
}

impl GatewayProbe {
    pub fn new(url: Url) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROBE_TIMEOUT)
            .build()?;
        Ok(Self { http, url })
    }

    /// Round-trip milliseconds, or `None` when the gateway does not answer.
    pub async fn latency_ms(&self) -> Option<f64> {
        let started = Instant::now();
        let resp = self.http.get(self.url.clone()).send().await.ok()?;
        drop(resp);
        Some((started.elapsed().as_secs_f64() * 1000.0).round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_plausible_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = HostMetrics::new(&dir.path().join("not-yet-created"));
        std::thread::sleep(m.ready_at() - Instant::now());
        let s = m.sample();
        for key in ["cpu_usage", "memory_usage", "disk_usage"] {
            let v = s[key];
            assert!((0.0..=100.0).contains(&v), "{key} = {v}");
        }
        assert!(s["memory_usage"] > 0.0, "a running host uses memory");
        assert!(
            s["disk_usage"] > 0.0,
            "the temp dir's filesystem holds files"
        );
        assert!(s["uptime_hours"] >= 0.0 && s["load_avg"] >= 0.0);
    }

    #[tokio::test]
    async fn probe_reports_none_for_a_closed_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        assert_eq!(GatewayProbe::new(url).unwrap().latency_ms().await, None);
    }
}
