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
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Check every database row for secrets stored outside the encryption layers.
    Audit(AuditArgs),
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
    /// Log format: text or json [default: text].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
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
