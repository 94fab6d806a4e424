//! Shutdown, as the rest of the server sees it: one drain signal and one flush.
//!
//! When the process is asked to stop, [`AppState::begin_drain`] is called once. From then
//! on `/readyz` answers 503, every event stream ends (with a `retry:` hint so browsers
//! come back by themselves), every config long-poll answers at once with the current
//! state ("no change"), and anything else that waits selects on
//! [`AppState::until_draining`] and gives up its wait. Requests in flight finish normally.
//!
//! After the HTTP drain (or its deadline), [`AppState::flush_on_shutdown`] runs once.
//! **The contract:** when it returns, everything the server acknowledged is durable. A
//! component that answers a caller before its data is committed (a write-behind buffer,
//! in-memory telemetry flushed on a timer) must flush from here; one that waits on a
//! background connection (a notification listener) must end its wait on
//! `until_draining`.

use super::AppState;

impl AppState {
    /// Starts draining. Idempotent.
    pub fn begin_drain(&self) {
        if !self.0.drain.is_cancelled() {
            tracing::info!("draining: ending event streams and long-polls");
        }
        self.0.drain.cancel();
    }

    pub fn draining(&self) -> bool {
        self.0.drain.is_cancelled()
    }

    /// Resolves once draining has begun (at once if it has).
    pub async fn until_draining(&self) {
        self.0.drain.cancelled().await
    }

    /// Makes everything acknowledged durable, then refuses further writes (503). Called
    /// once, after the HTTP drain; see the module's contract.
    pub async fn flush_on_shutdown(&self) {
        self.0.writer.flush_and_close().await;
        self.0.latest.close();
        for attempt in 1..=3 {
            match self.flush_heartbeats().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, attempt, "shutdown flush of heartbeats failed")
                }
            }
        }
    }
}
