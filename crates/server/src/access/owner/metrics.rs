//! The owner's agents' heartbeat history, for charts (see `access::rollups`).

use super::*;
use crate::access::rollups::{point_width, resolution_for};

impl Owner {
    /// History since `since` (default: the last hour; at most the retention back, and
    /// never less than 31 days), at the resolution that fits the window.
    pub async fn metrics(&self, id: &str, since: Option<i64>) -> ApiResult<MetricsView> {
        let row = self.row(id).await?;
        // The raw samples are read from the database: write what this replica holds.
        self.state.flush_heartbeats().await?;
        let now = self.state.now();
        let oldest = now - self.state.settings().heartbeat_retention_days.max(31) * 86400;
        let since = since.unwrap_or(now - 3600).clamp(oldest, now);
        let res = resolution_for(now - since);
        let width = point_width(res, now - since, row.heartbeat_interval);
        let key = self
            .state
            .0
            .store
            .metrics_key(self.id(), &row.id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let points = self.state.history_points(key, res, since, width).await?;
        let value = |v: [Option<f64>; 4]| MetricValues {
            cpu_usage: v[0],
            memory_usage: v[1],
            disk_usage: v[2],
            latency_ms: v[3],
        };
        Ok(MetricsView {
            resolution: res.step(),
            bucket: width,
            points: points
                .into_iter()
                .map(|p| {
                    let avg = value(p.avg);
                    MetricPointView {
                        ts: p.ts,
                        cpu_usage: avg.cpu_usage,
                        memory_usage: avg.memory_usage,
                        disk_usage: avg.disk_usage,
                        latency_ms: avg.latency_ms,
                        samples: p.samples,
                        max: value(p.max),
                    }
                })
                .collect(),
        })
    }
}
