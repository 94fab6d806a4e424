//! The command line: `serve`, the admin commands (`user create`, `agent create`) and
//! `audit`. Flags override environment variables and the TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(
    name = "openclaw-fleet",
    version,
    about = "OpenClaw Fleet: a zero-knowledge control plane for OpenClaw hosts",
    long_about = "OpenClaw Fleet server. Stores every agent's settings as opaque encrypted \
                  blobs it cannot read, authenticates agents with signed handshakes, and \
                  serves the dashboard.\n\nSettings come from defaults, an optional TOML file \
                  (--config), OPENCLAW_FLEET_* environment variables, then flags. The internal \
                  at-rest key comes from INTERNAL_ENCRYPTION_KEY (64 hex), \
                  INTERNAL_ENCRYPTION_KEY_FILE, or <data-dir>/internal.key (generated, mode \
                  0600, on first start)."
)]
pub struct Cli {
    /// A TOML settings file.
    #[arg(long, global = true, env = "OPENCLAW_FLEET_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (API + dashboard).
    Serve(ServeArgs),
    /// Manage accounts: create, list, reset-password, disable, enable.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Check every database row for secrets stored outside the encryption layers.
    Audit(AuditArgs),
    /// Copy the live SQLite database into a new file (PostgreSQL: pg_dump).
    #[command(
        long_about = "Copy the SQLite database into a new file while the server runs \
        (VACUUM INTO: one consistent snapshot). The file is created with mode 0600 and is never \
        overwritten. It holds agent secrets and configs sealed under the internal key: keep \
        internal.key apart from it (a backup together with its key opens every agent secret), \
        and keep a copy of that key for as long as you keep the backup. Prints JSON with the \
        key id the backup needs.\n\nFor PostgreSQL use pg_dump --format=custom (see the README)."
    )]
    Backup(BackupArgs),
    /// Put a backup in place as the database of a data dir.
    #[command(
        long_about = "Restore a backup made by `openclaw-fleet backup` as the SQLite \
        database of --data-dir (stop the server first). Refuses a data dir that already holds a \
        database unless --force. The internal key the backup was made under must be at hand: \
        <data-dir>/internal.key, INTERNAL_ENCRYPTION_KEY or --internal-encryption-key-file; the \
        restore checks its id against the backup's and says which id it needs.\n\nFor \
        PostgreSQL use pg_restore (see the README)."
    )]
    Restore(RestoreArgs),
    /// Re-seal every stored agent secret and config under a new internal key.
    #[command(
        long_about = "Re-seal every value the at-rest layer protects (agent secrets, \
        config envelopes, ...) under a new internal key. Stop every server first: the command \
        refuses while one runs, and servers refuse to start until the rotation is done.\n\n\
        It works in committed batches and can be interrupted and run again: values already \
        under the new key are skipped. With the key in the data dir, the new key is written to \
        internal.key.next (mode 0600) and, at the end, internal.key becomes internal.key.retired \
        and the new key internal.key. With INTERNAL_ENCRYPTION_KEY or a key file, give \
        --new-key-file (read if it exists, else written with mode 0600) and configure the \
        servers with it afterwards.\n\nKeep the retired key with the backups made before the \
        rotation (they need it), then remove it from the data dir with --drop-retired, which \
        first checks that no value is still sealed under it."
    )]
    RotateInternalKey(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// For a key given by INTERNAL_ENCRYPTION_KEY or a key file: the new key's file.
    #[arg(long, value_name = "FILE")]
    pub new_key_file: Option<PathBuf>,
    /// Re-seal at most N values in this run, then stop (run again to go on).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Values per committed batch.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// Forget the retired key (after checking that no value is sealed under it).
    #[arg(long, conflicts_with_all = ["limit", "new_key_file"])]
    pub drop_retired: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to create (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Replace the database the data dir already holds.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// Where the data lives; shared by every command.
#[derive(Debug, Args, Serialize, Default)]
pub struct StorageArgs {
    /// Data directory (SQLite file and generated key) [default: ./data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: SQLite in the data dir].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// File holding INTERNAL_ENCRYPTION_KEY (64 hex characters).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_encryption_key_file: Option<PathBuf>,
}

#[derive(Debug, Args, Serialize)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    #[serde(flatten)]
    pub storage: StorageArgs,
    /// Let anyone register after the first account exists.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub open_registration: bool,
    /// Public URL of the dashboard, e.g. https://fleet.example.com.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Handshake timestamp window in seconds [default: 60].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_window_secs: Option<i64>,
    /// Agent token lifetime in seconds [default: 3600].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_token_ttl_secs: Option<i64>,
    /// Log format [default: text].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<crate::settings::LogFormat>,
    /// Reverse proxies whose X-Forwarded-For / Forwarded header names the client:
    /// comma-separated addresses or CIDR networks, e.g. 127.0.0.1,10.0.0.0/8 [default: none].
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<String>>,
    /// On SIGTERM/SIGINT: seconds in-flight requests may take to finish before the
    /// server closes what is left and exits [default: 5].
    #[arg(long, value_name = "SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_drain_secs: Option<u64>,
    /// Also serve /metrics, without a token, on this address (e.g. 127.0.0.1:9090);
    /// keep it reachable by the scraper only.
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// File holding the bearer token that /metrics on the main address requires
    /// (or set OPENCLAW_FLEET_METRICS_TOKEN); without one, /metrics answers 404 there.
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key); reread on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1); reread on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Serve the agent builds in DIR (what scripts/package.sh wrote) at /downloads/,
    /// beside the Python monitor; read at start.
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_dist: Option<PathBuf>,
    /// Let alert webhooks reach loopback, private and link-local addresses (a receiver
    /// on this host or its network); off by default.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub alert_webhooks_allow_private: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; prints it as JSON.
    Create {
        #[arg(long)]
        email: String,
        /// File holding the password (a trailing newline is ignored); `-` reads stdin.
        #[arg(long)]
        password_file: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// List every account as JSON (email, disabled, active sessions, agents).
    List {
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Set a new password for an account and end all its sessions.
    #[command(
        long_about = "Set a new password for an account and end all its sessions. \
        The account's master key and configs are not touched: they are encrypted under the \
        master key, which the server never had, so its owner still needs their master \
        passphrase to read or change configs."
    )]
    ResetPassword {
        #[arg(long)]
        email: String,
        /// File holding the new password (a trailing newline is ignored); `-` reads stdin.
        #[arg(long)]
        password_file: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Disable an account: it cannot log in and its sessions end; its agents keep working.
    Disable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent; prints its id and AGENT_SECRET (shown this once) as JSON.
    Create {
        /// Email of the owning account.
        #[arg(long)]
        owner: String,
        #[arg(long)]
        name: String,
        /// Fleet name or id; created if no fleet has that name.
        #[arg(long)]
        fleet: Option<String>,
        /// Policy profile: dev, ops or exec.
        #[arg(long, default_value = "dev")]
        policy: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Print findings as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}
