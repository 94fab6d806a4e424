//! Figures that need the store: agents by status and the database pool.

use super::AppState;
use crate::error::ApiResult;
use crate::telemetry::names;

const STATUSES: [&str; 5] = ["pending", "healthy", "idle", "error", "offline"];

impl AppState {
    /// Sets the pool gauges (no I/O).
    pub fn observe_pool(&self) {
        let (open, idle) = self.0.store.pool_use();
        metrics::gauge!(names::DB_POOL_CONNECTIONS).set(f64::from(open));
        metrics::gauge!(names::DB_POOL_IN_USE).set(f64::from(open.saturating_sub(idle)));
    }

    /// Sets the agents-by-status gauge (one grouped count, after a flush of what this
    /// replica buffered).
    pub async fn observe_agents(&self) -> ApiResult<()> {
        self.flush_heartbeats().await?;
        let counts = self.0.store.agent_status_counts(self.now()).await?;
        for status in STATUSES {
            let n = counts
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n);
            metrics::gauge!(names::AGENTS, "status" => status).set(n as f64);
        }
        Ok(())
    }
}
