//! Heartbeats (SPEC §3): host metrics, gateway latency, the applied config
//! version and the last refusal's code, sent at the interval the server's
//! policy sets; the answer may renew the token or change the interval.

use std::time::{Duration, Instant};

use openclaw_fleet_protocol::{AgentStatus, HeartbeatRequest, HeartbeatResponse};

use super::Agent;
use crate::backoff::Backoff;

pub const GATEWAY_UNREACHABLE: &str = "gateway_unreachable";
const MIN_SPACING: Duration = Duration::from_secs(1);

impl Agent {
    pub(super) async fn heartbeat_loop(&self) {
        let mut backoff = Backoff::default();
        let mut refusals = 0u32;
        loop {
            let (token, generation) = self.session().await;
            let body = self.heartbeat_body().await;
            match self.client.heartbeat(&token, &body).await {
                Ok(resp) => {
                    if backoff.attempts() > 0 {
                        tracing::info!("server reachable again");
                    }
                    backoff.reset();
                    refusals = 0;
                    self.take_answer(resp).await;
                    self.wait_for_next().await;
                }
                Err(e) if e.is_unauthorized() => {
                    self.invalidate(generation).await;
                    refusals += 1;
                    if refusals > 1 {
                        super::pause(&mut backoff, &e).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed; keeping the last config");
                    super::pause(&mut backoff, &e).await;
                }
            }
        }
    }

    /// Sleeps the policy interval, or less when a config was applied or
    /// refused meanwhile, so the dashboard learns of it at once; never
    /// sooner than `MIN_SPACING` after the last heartbeat.
    async fn wait_for_next(&self) {
        let sent = Instant::now();
        tokio::select! {
            () = tokio::time::sleep(self.interval()) => {}
            () = self.wake.notified() => {
                tokio::time::sleep_until((sent + MIN_SPACING).into()).await;
            }
        }
    }

    pub(super) async fn take_answer(&self, resp: HeartbeatResponse) {
        self.set_interval(resp.heartbeat_interval);
        tracing::debug!(
            status = %resp.status,
            config_version = resp.config_version,
            "heartbeat accepted"
        );
        if let (Some(token), Some(expires_in)) = (resp.token, resp.expires_in) {
            self.renew(token, expires_in).await;
        }
    }

    /// The heartbeat body: `error` when the last config was refused (that
    /// code wins) or the gateway does not answer.
    pub(super) async fn heartbeat_body(&self) -> HeartbeatRequest {
        let ready_at = self.metrics.lock().expect("metrics lock").ready_at();
        tokio::time::sleep_until(ready_at.into()).await;
        let mut metrics = self.metrics.lock().expect("metrics lock").sample();
        let latency = self.probe.latency_ms().await;
        if let Some(ms) = latency {
            metrics.insert("latency_ms".into(), ms);
        }
        let report = self.report();
        let error = match (report.config_error, latency) {
            (Some((code, _)), _) => Some(code.to_owned()),
            (None, None) => Some(GATEWAY_UNREACHABLE.to_owned()),
            (None, Some(_)) => None,
        };
        HeartbeatRequest {
            agent_id: self.settings.agent_id,
            status: if error.is_some() {
                AgentStatus::Error
            } else {
                AgentStatus::Healthy
            },
            metrics,
            config_version_applied: Some(report.applied),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            machine_id: None,
            location: None,
            model: None,
            error,
            config_delivery: Some(self.config_delivery()),
        }
    }
}
