//! The running agent: one shared [`Agent`] driven by two loops on a
//! single-threaded runtime, heartbeats at the policy's interval and a config
//! long-poll, which share one session (token) and one report of what was
//! applied or refused. `--once` drives the same pieces a single time.

mod config;
mod enroll;
mod heartbeat;
mod once;
mod session;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_fleet_protocol::{ConfigDelivery, IdentityKey};

use crate::client::{ClientError, FleetClient};
use crate::clock::Clock;
use crate::identity::{self, IdentityError};
use crate::metrics::{GatewayProbe, HostMetrics};
use crate::settings::{Credential, Settings};
use crate::state::{AgentState, StateError};

pub use once::{OnceError, OnceSummary};
use session::Session;

/// Shortest and longest heartbeat interval honoured, whatever a server says.
const MIN_INTERVAL: u64 = 1;
const MAX_INTERVAL: u64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("cannot set up HTTP: {0}")]
    Http(String),
}

/// What the next heartbeat reports about configs.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Version applied (persisted in the state file as well).
    pub applied: u64,
    /// Highest version seen, applied or refused: the long-poll waits for more.
    pub seen: u64,
    /// Short code and message of the last refusal, until a good config lands.
    pub config_error: Option<(&'static str, String)>,
}

pub struct Agent {
    settings: Arc<Settings>,
    client: FleetClient,
    probe: GatewayProbe,
    clock: Clock,
    session: tokio::sync::Mutex<Option<Session>>,
    report: Mutex<Report>,
    metrics: Mutex<HostMetrics>,
    interval_secs: std::sync::atomic::AtomicU64,
    /// Wakes the heartbeat loop early when the config report changed.
    wake: tokio::sync::Notify,
    last_signed: std::sync::atomic::AtomicU64,
    generation: std::sync::atomic::AtomicU64,
    /// An Ed25519 agent's key (None: an HMAC agent, whose secret is in the
    /// settings).
    identity_key: Option<Box<IdentityKey>>,
    /// An enrollment token is configured that this key was not enrolled with.
    enrollment_pending: std::sync::atomic::AtomicBool,
}

impl Agent {
    pub fn new(mut settings: Settings, clock: Clock) -> Result<Self, StartError> {
        let state = AgentState::load(&settings.state_dir)?;
        let (identity_key, enrollment_pending) = match &mut settings.credential {
            Credential::Hmac(_) => (None, false),
            Credential::Ed25519 {
                identity_key,
                enrollment_token,
            } => {
                let key = match identity_key.take() {
                    Some(key) => key,
                    None => {
                        let (key, made) = identity::load_or_create(&settings.state_dir)?;
                        let key = Box::new(key);
                        if made {
                            tracing::info!(
                                file = %settings.state_dir.join(identity::KEY_FILE).display(),
                                public_key = %key.public_key(),
                                "made this host's Ed25519 identity key"
                            );
                        }
                        key
                    }
                };
                let pending = enrollment_token.as_ref().is_some_and(|token| {
                    let public_key = key.public_key().to_string();
                    !identity::is_enrolled(
                        &settings.state_dir,
                        &settings.agent_id,
                        &public_key,
                        token,
                    )
                });
                (Some(key), pending)
            }
        };
        let applied = state.applied_for(&settings.agent_id);
        let client = FleetClient::new(settings.url.clone(), settings.ca_file.as_deref())
            .map_err(|e| StartError::Http(e.to_string()))?;
        let probe = GatewayProbe::new(settings.gateway_url.clone())
            .map_err(|e| StartError::Http(e.to_string()))?;
        Ok(Self {
            metrics: Mutex::new(HostMetrics::new(&settings.state_dir)),
            settings: Arc::new(settings),
            client,
            probe,
            clock,
            session: tokio::sync::Mutex::new(None),
            report: Mutex::new(Report {
                applied,
                seen: applied,
                config_error: None,
            }),
            interval_secs: 30.into(),
            wake: tokio::sync::Notify::new(),
            last_signed: 0.into(),
            generation: 0.into(),
            identity_key,
            enrollment_pending: enrollment_pending.into(),
        })
    }

    pub fn report(&self) -> Report {
        self.report.lock().expect("report lock").clone()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(
            self.interval_secs
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    fn set_interval(&self, secs: u64) {
        let secs = secs.clamp(MIN_INTERVAL, MAX_INTERVAL);
        self.interval_secs
            .store(secs, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether configs are fetched and applied: not without an encryption
    /// secret, when the agent runs monitor-only.
    pub fn config_delivery(&self) -> ConfigDelivery {
        if self.settings.encryption_secret.is_some() {
            ConfigDelivery::Ready
        } else {
            ConfigDelivery::NotSetUp
        }
    }

    /// The one line saying the agent runs monitor-only, at start.
    fn say_if_monitor_only(&self) {
        if self.config_delivery() == ConfigDelivery::NotSetUp {
            tracing::warn!(
                "{} is not set: running monitor-only (handshakes and heartbeats; no config \
                 is fetched or applied, and the dashboard shows config delivery not set up)",
                crate::settings::ENV_ENCRYPTION_SECRET
            );
        }
    }

    /// Runs the heartbeat and config loops until the process is stopped.
    pub async fn run(&self) {
        tracing::info!(
            agent_id = %self.settings.agent_id,
            version = env!("CARGO_PKG_VERSION"),
            "agent starting"
        );
        self.say_if_monitor_only();
        match self.config_delivery() {
            ConfigDelivery::Ready => {
                tokio::join!(self.heartbeat_loop(), self.config_loop());
            }
            ConfigDelivery::NotSetUp => self.heartbeat_loop().await,
        }
    }

    /// One handshake, config fetch and heartbeat; see [`OnceError`].
    pub async fn run_once(&self) -> Result<OnceSummary, OnceError> {
        self.say_if_monitor_only();
        once::run(self).await
    }
}

/// Sleeps the backoff's next delay, or longer when the server asked.
async fn pause(backoff: &mut crate::backoff::Backoff, err: &ClientError) {
    let delay = backoff.next_delay(&mut rand::thread_rng());
    let delay = err.retry_after().map_or(delay, |r| r.max(delay));
    tracing::debug!(delay_ms = delay.as_millis() as u64, "retrying later");
    tokio::time::sleep(delay).await;
}
