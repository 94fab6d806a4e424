//! Server settings: defaults, then an optional TOML file, then `OPENCLAW_FLEET_*`
//! environment variables, then command-line flags (figment). No secret lives here:
//! the internal key is resolved by `crypto::internal_key` and never enters this struct.
//! The one secret that does, the metrics scrape token, is a `SecretString`: redacted
//! in `Debug`, never serialized, zeroized on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::client_addr::TrustedProxies;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database and the generated key file live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `<data_dir>/fleet.db`.
    pub database_url: Option<String>,
    /// A file holding INTERNAL_ENCRYPTION_KEY (64 hex characters).
    pub internal_encryption_key_file: Option<PathBuf>,
    /// Allow registration after the first account exists.
    pub open_registration: bool,
    /// The public URL (e.g. `https://fleet.example.com`); sets the `Secure` cookie flag
    /// and the allowed `Origin` for cookie writes.
    pub public_url: Option<String>,
    /// Handshake timestamp window, seconds (SPEC §2).
    pub handshake_window_secs: i64,
    /// Agent token lifetime, seconds.
    pub agent_token_ttl_secs: i64,
    /// Enrollment token lifetime, seconds (SPEC-identity: default 24 h).
    pub enrollment_token_ttl_secs: i64,
    /// Owner session lifetime, seconds.
    pub session_ttl_secs: i64,
    /// How long heartbeat history is kept, days.
    pub heartbeat_retention_days: i64,
    /// Heartbeat history samples kept in memory while they wait for their flush (about
    /// 10 s of 10 000 heartbeats a second); while the database falls behind, samples
    /// beyond it are dropped and counted (see `access::latest`).
    pub heartbeat_history_queue: usize,
    /// Agents per slice of a heartbeat-history roll-up (the hourly one takes half as many;
    /// see `access::rollups`): smaller slices are shorter transactions, more of them.
    pub history_rollup_slice: i64,
    /// Owners (and fleets) with fewer agents have their agent counts (the agent list's
    /// status counts, the fleets' `agent_count`) counted on every request; from this many
    /// on they are kept and recounted in the background (see `access::counts`).
    pub count_every_time_below: i64,
    /// How long activity log entries are kept after their last occurrence, days.
    pub activity_retention_days: i64,
    /// Largest request body, bytes (configs are capped at 64 KiB regardless).
    pub max_body_bytes: usize,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Reverse proxies (CIDR networks or addresses) whose `X-Forwarded-For` / `Forwarded`
    /// name the client; see `crate::client_addr`.
    pub trusted_proxies: TrustedProxies,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish, seconds; then
    /// what is left is closed and the server exits.
    pub shutdown_drain_secs: u64,
    /// A second address that serves only `/metrics`, without a token.
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token that `/metrics` on the main address requires; unset: not served there.
    #[serde(skip_serializing)]
    pub metrics_token: Option<SecretString>,
    /// A file holding the metrics token (instead of `metrics_token`).
    pub metrics_token_file: Option<PathBuf>,
    /// PEM certificate chain for built-in HTTPS (with `tls_key`); reread on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in HTTPS (with `tls_cert`); reread on SIGHUP.
    pub tls_key: Option<PathBuf>,
    /// A directory of agent builds (what `scripts/package.sh` wrote) served at
    /// `/downloads/`; read at start.
    pub agent_dist: Option<PathBuf>,
    /// Let alert webhooks reach loopback, private and link-local addresses (off: a rule
    /// cannot make the server probe its own network).
    pub alert_webhooks_allow_private: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            internal_encryption_key_file: None,
            open_registration: false,
            public_url: None,
            handshake_window_secs: 60,
            agent_token_ttl_secs: 3600,
            enrollment_token_ttl_secs: 24 * 3600,
            session_ttl_secs: 12 * 3600,
            heartbeat_retention_days: 30,
            heartbeat_history_queue: 100_000,
            history_rollup_slice: 5000,
            count_every_time_below: 2000,
            activity_retention_days: 90,
            max_body_bytes: 1024 * 1024,
            log_format: LogFormat::Text,
            trusted_proxies: TrustedProxies::default(),
            shutdown_drain_secs: 5,
            metrics_listen: None,
            metrics_token: None,
            metrics_token_file: None,
            tls_cert: None,
            tls_key: None,
            agent_dist: None,
            alert_webhooks_allow_private: false,
        }
    }
}

impl Settings {
    /// Layers the sources; `overrides` are the flags that were given.
    pub fn load(config_file: Option<&Path>, overrides: impl Serialize) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        let mut settings: Settings = fig
            .merge(Env::prefixed("OPENCLAW_FLEET_").only(&Self::ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        settings.read_metrics_token_file()?;
        settings.validate()?;
        Ok(settings)
    }

    const ENV_KEYS: [&'static str; 26] = [
        "listen",
        "data_dir",
        "database_url",
        "internal_encryption_key_file",
        "open_registration",
        "public_url",
        "handshake_window_secs",
        "agent_token_ttl_secs",
        "enrollment_token_ttl_secs",
        "session_ttl_secs",
        "heartbeat_retention_days",
        "heartbeat_history_queue",
        "history_rollup_slice",
        "count_every_time_below",
        "activity_retention_days",
        "max_body_bytes",
        "log_format",
        "trusted_proxies",
        "shutdown_drain_secs",
        "metrics_listen",
        "metrics_token",
        "metrics_token_file",
        "tls_cert",
        "tls_key",
        "agent_dist",
        "alert_webhooks_allow_private",
    ];

    fn read_metrics_token_file(&mut self) -> anyhow::Result<()> {
        let Some(path) = &self.metrics_token_file else {
            return Ok(());
        };
        anyhow::ensure!(
            self.metrics_token.is_none(),
            "set metrics_token or metrics_token_file, not both"
        );
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read metrics_token_file {}: {e}", path.display())
        })?);
        self.metrics_token = Some(SecretString::from(text.trim()));
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (5..=3600).contains(&self.handshake_window_secs),
            "handshake_window_secs must be between 5 and 3600"
        );
        anyhow::ensure!(
            (60..=7 * 86400).contains(&self.agent_token_ttl_secs),
            "agent_token_ttl_secs must be between 60 and 604800"
        );
        anyhow::ensure!(
            (60..=30 * 86400).contains(&self.enrollment_token_ttl_secs),
            "enrollment_token_ttl_secs must be between 60 and 2592000"
        );
        anyhow::ensure!(
            self.session_ttl_secs >= 60,
            "session_ttl_secs must be at least 60"
        );
        anyhow::ensure!(
            self.heartbeat_retention_days >= 1,
            "heartbeat_retention_days must be ≥ 1"
        );
        anyhow::ensure!(
            (1..=10_000_000).contains(&self.heartbeat_history_queue),
            "heartbeat_history_queue must be between 1 and 10000000"
        );
        anyhow::ensure!(
            (2..=1_000_000).contains(&self.history_rollup_slice),
            "history_rollup_slice must be between 2 and 1000000"
        );
        anyhow::ensure!(
            self.count_every_time_below >= 1,
            "count_every_time_below must be ≥ 1"
        );
        anyhow::ensure!(
            (1..=36_500).contains(&self.activity_retention_days),
            "activity_retention_days must be between 1 and 36500"
        );
        anyhow::ensure!(
            self.max_body_bytes >= 64 * 1024,
            "max_body_bytes must be ≥ 65536"
        );
        anyhow::ensure!(
            self.shutdown_drain_secs <= 600,
            "shutdown_drain_secs must be at most 600"
        );
        if let Some(token) = &self.metrics_token {
            use secrecy::ExposeSecret;
            anyhow::ensure!(
                token.expose_secret().chars().count() >= 16,
                "the metrics token must be at least 16 characters (e.g. `openssl rand -hex 32`)"
            );
        }
        anyhow::ensure!(
            self.tls_cert.is_some() == self.tls_key.is_some(),
            "set both tls_cert and tls_key for built-in HTTPS, or neither"
        );
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "public_url must start with http:// or https://"
            );
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::store::default_url(&self.data_dir))
    }

    /// The certificate and key files, when the server speaks HTTPS itself.
    pub fn tls_files(&self) -> Option<crate::tls::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// Whether browsers reach this server over HTTPS: built-in TLS, or an `https://`
    /// public URL (a TLS-terminating proxy). Sets `Secure` cookies and HSTS.
    pub fn https(&self) -> bool {
        self.tls_cert.is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }

    /// Whether `/metrics` is served anywhere (and figures are collected).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics_token.is_some() || self.metrics_listen.is_some()
    }
}
