//! The command line. Secrets have no flags on purpose: anything on a command
//! line is visible to every user through `ps` and /proc (a secret may be
//! named by file, as `--enrollment-token-file` does).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Settings are read in this order, later ones winning: built-in defaults, the TOML
file (--config or OPENCLAW_FLEET_AGENT_CONFIG), environment variables, then flags.

Environment:
  OPENCLAW_FLEET_URL                    fleet server, e.g. https://fleet.example.com
  OPENCLAW_FLEET_AGENT_ID               this agent's id (shown when it was created)
  OPENCLAW_FLEET_AGENT_SECRET[_FILE]    an HMAC agent's ocf_as_… secret, or a file holding it
  OPENCLAW_FLEET_ENROLLMENT_TOKEN[_FILE]  an Ed25519 agent's one-time ocf_et_… enrollment
                                        token (or --enrollment-token-file): on first start
                                        the agent makes its key pair in
                                        <state dir>/.fleet-agent-identity-key (mode 0600)
                                        and enrolls the public key with it; later starts
                                        sign with the key and need no token
  OPENCLAW_FLEET_IDENTITY_KEY[_FILE]    an ocf_ik_… identity key to use instead of that file
  OPENCLAW_FLEET_ENCRYPTION_SECRET[_FILE]  the ocf_es_… secret, or a file holding it
  OPENCLAW_STATE_DIR                    OpenClaw state directory (default ~/.openclaw)
  OPENCLAW_GATEWAY_URL                  local gateway (default http://127.0.0.1:18789)
  OPENCLAW_FLEET_ON_CHANGE              command run after a config change (sh -c)
  OPENCLAW_FLEET_MAX_CLOCK_CORRECTION   largest clock skew, in seconds, corrected from the
                                        server's time (default 600, 0 = never); beyond it the
                                        agent stops: fix this host's clock
  OPENCLAW_FLEET_CA_FILE                PEM CA certificate(s) trusted for the server, in
                                        addition to the operating system's roots
  RUST_LOG                              log level: error, warn, info (default), debug";

#[derive(Debug, Parser)]
#[command(
    name = "openclaw-fleet-agent",
    version,
    about = "OpenClaw Fleet host agent: connects this OpenClaw host to a fleet server, \
             reports its health and applies the configs its owner encrypted for it",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect to the fleet server: handshake, heartbeats, and config updates
    Run(RunArgs),
    /// Write a systemd unit and a private environment file for `run`
    InstallService(InstallArgs),
    /// Print the agent version
    Version,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// One handshake, one heartbeat, one config fetch, then exit (0 on success)
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install a user unit (~/.config/systemd/user) instead of a system one
    #[arg(long)]
    pub user: bool,
    /// Where to write the environment file holding the settings (mode 0600)
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Where to write the systemd unit
    #[arg(long, value_name = "PATH")]
    pub unit_path: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The non-secret settings that flags may override.
#[derive(Debug, Default, Clone, Args)]
pub struct SettingsArgs {
    /// TOML settings file (keys: url, agent_id, state_dir, gateway_url, on_change,
    /// max_clock_correction, ca_file, agent_secret_file, enrollment_token_file,
    /// identity_key_file, encryption_secret_file)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Fleet server base URL
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// This agent's id
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,
    /// OpenClaw state directory, where .env and openclaw.json live
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Local OpenClaw gateway, probed for the heartbeat's latency
    #[arg(long, value_name = "URL")]
    pub gateway_url: Option<String>,
    /// Shell command run (sh -c) after an applied config changed a file
    #[arg(long, value_name = "CMD")]
    pub on_change: Option<String>,
    /// Largest clock skew (seconds) corrected from the server's time; default 600
    #[arg(long, value_name = "SECONDS")]
    pub max_clock_correction: Option<String>,
    /// PEM file of CA certificates to trust for the server, besides the system's
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// File holding an Ed25519 agent's ocf_et_… enrollment token (the token
    /// itself is never a flag)
    #[arg(long, value_name = "FILE")]
    pub enrollment_token_file: Option<PathBuf>,
}
