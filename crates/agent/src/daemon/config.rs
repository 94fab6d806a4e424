//! Config delivery: the long-poll loop that brings a saved config to the
//! host within about a second, and [`Agent::offer_config`], which applies an
//! envelope off the runtime thread and records the outcome for the next
//! heartbeat.

use std::time::{Duration, Instant};

use openclaw_fleet_protocol::Envelope;
use serde_json::Value;

use super::Agent;
use crate::apply::{self, ApplyError, Outcome, Validator};
use crate::backoff::Backoff;
use crate::client::LONG_POLL_WAIT;
use crate::hooks;

/// Pause after an answer that brought nothing new, so a server that answers
/// long-polls at once cannot spin the agent.
const IDLE_PAUSE: Duration = Duration::from_secs(1);

impl Agent {
    pub(super) async fn config_loop(&self) {
        let mut backoff = Backoff::default();
        let mut refusals = 0u32;
        loop {
            let (token, generation) = self.session().await;
            let after = self.report().seen;
            let started = Instant::now();
            let result = self
                .client
                .config(&token, &self.settings.agent_id, after, Some(LONG_POLL_WAIT))
                .await;
            match result {
                Ok(resp) => {
                    backoff.reset();
                    refusals = 0;
                    let progressed = match resp.config {
                        Some(envelope) => self.offer_config(envelope).await,
                        None => false,
                    };
                    if !progressed && started.elapsed() < IDLE_PAUSE {
                        tokio::time::sleep(IDLE_PAUSE).await;
                    }
                }
                Err(e) if e.is_unauthorized() => {
                    self.invalidate(generation).await;
                    refusals += 1;
                    if refusals > 1 {
                        super::pause(&mut backoff, &e).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "config poll failed");
                    super::pause(&mut backoff, &e).await;
                }
            }
        }
    }

    /// Applies `envelope` when it is new and sound; true when a new version
    /// was applied. A refusal is logged with its code, kept for the next
    /// heartbeat, and leaves the last good config in place.
    pub(super) async fn offer_config(&self, envelope: Value) -> bool {
        if self.settings.encryption_secret.is_none() {
            return false; // monitor-only: configs are neither fetched nor applied
        }
        let offered = Envelope::parse(&envelope).ok();
        let settings = self.settings.clone();
        let result = tokio::task::spawn_blocking(move || {
            let secret = settings
                .encryption_secret
                .as_ref()
                .expect("checked above: config delivery is set up");
            apply::apply_envelope(
                &settings.state_dir,
                &envelope,
                &settings.agent_id,
                secret,
                &Validator::detect(),
            )
        })
        .await
        .unwrap_or_else(|e| Err(ApplyError::Invalid(format!("apply task failed: {e}"))));
        let (applied, changed) = self.record(offered, result);
        if let (Some(version), true, Some(cmd)) = (applied, changed, &self.settings.on_change) {
            hooks::on_change(cmd, &self.settings.state_dir, version).await;
        }
        applied.is_some()
    }

    /// Notes an apply's outcome in the report, waking the heartbeat loop
    /// when what it reports changed; returns the newly applied version (if
    /// any) and whether it changed a file.
    fn record(
        &self,
        offered: Option<Envelope>,
        result: Result<Outcome, ApplyError>,
    ) -> (Option<u64>, bool) {
        let mut report = self.report.lock().expect("report lock");
        let before = (
            report.applied,
            report.config_error.as_ref().map(|(c, _)| *c),
        );
        let outcome = self.record_locked(&mut report, offered, result);
        if (
            report.applied,
            report.config_error.as_ref().map(|(c, _)| *c),
        ) != before
        {
            self.wake.notify_one();
        }
        outcome
    }

    fn record_locked(
        &self,
        report: &mut super::Report,
        offered: Option<Envelope>,
        result: Result<Outcome, ApplyError>,
    ) -> (Option<u64>, bool) {
        if let Some(env) = offered.filter(|e| e.agent_id == self.settings.agent_id) {
            report.seen = report.seen.max(env.version);
        }
        match result {
            Ok(Outcome::Applied { version, changed }) => {
                tracing::info!(config_version = version, changed, "config applied");
                report.applied = version;
                report.seen = report.seen.max(version);
                report.config_error = None;
                (Some(version), changed)
            }
            Ok(Outcome::AlreadyApplied { version }) => {
                tracing::debug!(config_version = version, "config already applied");
                report.config_error = None;
                (None, false)
            }
            Err(e) => {
                let code = e.code();
                let repeated = report
                    .config_error
                    .as_ref()
                    .is_some_and(|(c, _)| *c == code);
                if repeated {
                    tracing::debug!(error_code = code, "config refused again");
                } else {
                    tracing::warn!(
                        error_code = code,
                        error = %e,
                        config_version_applied = report.applied,
                        "config refused; keeping the last good config"
                    );
                }
                report.config_error = Some((code, e.to_string()));
                (None, false)
            }
        }
    }
}
