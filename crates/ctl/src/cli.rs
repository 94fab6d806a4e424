//! The command line. No flag takes a secret: passwords, master keys and
//! config values come from files, standard input or a prompt without echo,
//! because anything on a command line is visible to every user in `ps` and
//! lands in shell history.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure: some agents of a fleet-wide change failed, or another error
  2  usage: bad arguments or input files
  3  authentication: not logged in, session ended, wrong password or master key
  4  not found: no such agent or fleet (or not yours)
  5  conflict: the config kept changing meanwhile, no master key or encryption secret yet
  6  refused for safety: weak key-derivation parameters, a rollback, altered data
  7  the server could not be reached, is failing, or rate-limits you

Files (mode 0600, in a 0700 directory): the session token and the highest config
version seen per agent, under $XDG_CONFIG_HOME/openclaw-fleet (usually
~/.config/openclaw-fleet), or OPENCLAW_FLEET_CTL_CONFIG.";

#[derive(Debug, Parser)]
#[command(
    name = "openclaw-fleet-ctl",
    version,
    about = "Operator CLI for OpenClaw Fleet: list agents and read or change their \
             configs, encrypted and decrypted on this machine with your master key",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Print JSON instead of tables and sentences
    #[arg(long, global = true)]
    pub json: bool,
    /// Directory for the session and the rollback records
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "OPENCLAW_FLEET_CTL_CONFIG"
    )]
    pub config_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to a fleet server and keep the session (the password is prompted)
    Login(LoginArgs),
    /// End the session on the server and delete it here
    Logout(LogoutArgs),
    /// Show the server and account of the current session
    Whoami,
    /// List and inspect agents
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Read and change agents' encrypted configs
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Set or remove one environment variable on an agent or a whole fleet
    #[command(subcommand)]
    Env(EnvCommand),
    /// Serve the dashboard built into this binary on 127.0.0.1 and forward its API
    /// calls to the server, so the code that sees your master key is not the server's
    Dashboard(DashboardArgs),
    /// Compare the dashboard a server serves with the one built into this binary
    /// (SHA-256 of every file); names each file that differs
    VerifyDashboard(VerifyDashboardArgs),
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Fleet server to forward to (default: the server of the current login)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Local port on 127.0.0.1 (default: any free port; the URL is printed)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Extra CA certificates (PEM) to trust for the server (default: the login's)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// to a non-loopback server
    #[arg(long)]
    pub allow_http: bool,
}

#[derive(Debug, Args)]
pub struct VerifyDashboardArgs {
    /// The server's URL, e.g. https://fleet.example.com
    pub url: String,
    /// Extra CA certificates (PEM) to trust for this server
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// to a non-loopback server
    #[arg(long)]
    pub allow_http: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Fleet server, e.g. https://fleet.example.com
    #[arg(long, value_name = "URL")]
    pub url: String,
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Read the account password from FILE (`-`: standard input) instead of a prompt
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) to trust for this server
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// to a non-loopback server (the password would cross in the clear)
    #[arg(long)]
    pub allow_http: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Only delete the local session file (when the server cannot be reached)
    #[arg(long)]
    pub local: bool,
}

/// Where the master key passphrase comes from.
#[derive(Debug, Args, Clone)]
pub struct MasterKeyArgs {
    /// Read the master key passphrase from FILE (`-`: standard input) instead of a prompt
    #[arg(long, value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List agents, optionally of one fleet or with one status
    List {
        /// Fleet name or id
        #[arg(long, value_name = "NAME")]
        fleet: Option<String>,
        /// pending, healthy, idle, error or offline
        #[arg(long, value_name = "STATUS",
              value_parser = ["pending", "healthy", "idle", "error", "offline"])]
        status: Option<String>,
    },
    /// Show one agent (AGENT is its id or its unique name)
    Show { agent: String },
    /// Give an agent an encryption secret: made here, stored on the server only
    /// wrapped under your master key, and written to FILE for the host
    SetupEncryption {
        agent: String,
        /// Where to write the new ocf_es_… secret (mode 0600; must not exist)
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
}

/// The edit of a config document, shared by `config set` and `config apply`.
#[derive(Debug, Args, Clone, Default)]
pub struct EditArgs {
    /// Set a variable. KEY=VALUE puts the value on the command line (visible in
    /// `ps`, kept in shell history): for secrets give only KEY to be prompted, or
    /// use --env-file or `env set`
    #[arg(long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Remove a variable
    #[arg(long = "unset", value_name = "KEY")]
    pub unset: Vec<String>,
    /// Set every variable of a dotenv file (NAME=value lines; nothing is expanded)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Merge a JSON5 fragment into openclaw.json (RFC 7396: objects merge, null
    /// removes a key, anything else replaces); `-` reads standard input
    #[arg(long = "openclaw", value_name = "FRAGMENT.json5")]
    pub openclaw: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Decrypt and print an agent's config document
    Get {
        agent: String,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
    /// Change one agent's config: read, edit, seal the next version, upload
    Set {
        agent: String,
        #[command(flatten)]
        edit: EditArgs,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
    /// Make the same change on every agent of a fleet
    Apply {
        /// Fleet name or id
        #[arg(long, value_name = "NAME")]
        fleet: String,
        #[command(flatten)]
        edit: EditArgs,
        /// Agents changed at the same time
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
}

/// One agent, or every agent of a fleet.
#[derive(Debug, Args, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// Fleet name or id
    #[arg(long, value_name = "NAME")]
    pub fleet: Option<String>,
    /// Agent id or unique name
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Set KEY to the value read from standard input (or prompted without echo)
    Set {
        key: String,
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
    /// Remove KEY
    Unset {
        key: String,
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
}
