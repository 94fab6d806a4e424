//! The offline sweep: once every [`SWEEP_EVERY`], each replica stores `offline` for the
//! agents that missed three heartbeat intervals and tells every dashboard about them.
//!
//! Reads never write: the agent list filters and counts on the stored status, and only
//! this timer (not a list request) brings it up to date. So a filter or a count shows an
//! agent that fell silent as offline at most [`SWEEP_EVERY`] (plus the sweep's own time)
//! after its deadline; each row of a page shows its effective status at once. A sweep with
//! nothing due is one sequential read of the agents (the exact deadline; no index
//! follows `last_seen`, which every heartbeat flush moves: migration 0018; measured
//! 47–59 ms at 100 000 agents on a bloated PostgreSQL heap) and takes no write lock. On
//! PostgreSQL every replica sweeps: the statement re-checks the deadline on each row it locks, so concurrent sweeps mark (and
//! announce) each agent once.
//!
//! The sweep flushes this replica's acknowledged heartbeats first, so an agent that
//! reported just before its deadline is not marked. One another replica has not flushed
//! yet may be: that replica's next flush (at most `latest::FLUSH_EVERY` later) writes its
//! reported status back.

use std::time::Duration;

use super::AppState;
use crate::error::ApiError;

/// How often each replica sweeps: the bound on how late a filter or count sees an agent
/// go offline.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl AppState {
    /// One sweep (what the timer runs): returns how many agents it marked offline.
    pub async fn sweep_offline(&self) -> Result<usize, ApiError> {
        self.flush_heartbeats().await?;
        let marked = self.0.store.mark_offline(self.now()).await?;
        self.notify_changes(
            marked.iter().map(|a| (a.owner_id.as_str(), a.id.as_str())),
            true,
        );
        Ok(marked.len())
    }

    /// Sweeps every [`SWEEP_EVERY`] until the task is aborted.
    pub async fn sweep_offline_forever(self) {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.sweep_offline().await {
                tracing::warn!(error = e.status().1, "offline sweep failed; will retry");
            }
        }
    }
}
