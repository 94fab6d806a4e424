//! One module per command group. Each command returns the process exit code
//! on success (0, or 1 when part of a fleet-wide change failed) and a
//! [`CtlError`] otherwise; `main` prints the error and exits with its code.

mod agents;
mod config;
mod dashboard;
mod env;
mod fleet;
mod session;

use openclaw_fleet_protocol::{AgentId, UserId};
use zeroize::Zeroizing;

use crate::api::{Agent, Client, Fleet};
use crate::cli::{Cli, Command, MasterKeyArgs};
use crate::configs::Ctx;
use crate::error::{CtlError, Result};
use crate::input::{self, SecretSource};
use crate::local::seen::SeenVersions;
use crate::local::session::Session;
use crate::local::ConfigDir;
use crate::unlock::Unlocked;

/// Output mode and the local directory, shared by every command.
pub struct Globals {
    pub json: bool,
    pub dir: ConfigDir,
}

pub async fn run(cli: Cli) -> Result<i32> {
    let globals = Globals {
        json: cli.json,
        dir: ConfigDir::resolve(cli.config_dir)?,
    };
    match cli.command {
        Command::Login(args) => session::login(&globals, args).await,
        Command::Logout(args) => session::logout(&globals, args).await,
        Command::Whoami => session::whoami(&globals).await,
        Command::Agents(cmd) => agents::run(&globals, cmd).await,
        Command::Config(cmd) => config::run(&globals, cmd).await,
        Command::Env(cmd) => env::run(&globals, cmd).await,
        Command::Dashboard(args) => dashboard::serve(&globals, args).await,
        Command::VerifyDashboard(args) => dashboard::verify(&globals, args).await,
    }
}

/// The logged-in context, or `NotLoggedIn`.
fn ctx(globals: &Globals) -> Result<Ctx> {
    let session = Session::load(&globals.dir)?.ok_or(CtlError::NotLoggedIn)?;
    Ok(Ctx {
        client: Client::for_session(&session)?,
        session,
        seen: SeenVersions::new(globals.dir.clone()),
    })
}

/// An agent by id, or by name when exactly one agent has it.
async fn resolve_agent(client: &Client, text: &str) -> Result<Agent> {
    if let Ok(id) = AgentId::parse(text) {
        return match client.agent(&id.to_string()).await {
            Err(CtlError::NotFound(_)) => Err(CtlError::NotFound(format!("no agent {id}"))),
            other => other.map(|d| d.agent),
        };
    }
    let mut named: Vec<Agent> = client
        .agents(None, None)
        .await?
        .into_iter()
        .filter(|a| a.name == text)
        .collect();
    match named.len() {
        0 => Err(CtlError::NotFound(format!("no agent named {text:?}"))),
        1 => Ok(named.remove(0)),
        n => Err(CtlError::usage(format!(
            "{n} agents are named {text:?}; name one by id: {}",
            named
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A fleet by id or name.
async fn resolve_fleet(client: &Client, text: &str) -> Result<Fleet> {
    client
        .fleets()
        .await?
        .into_iter()
        .find(|f| f.id == text || f.name == text)
        .ok_or_else(|| CtlError::NotFound(format!("no fleet named {text:?}")))
}

fn agent_id(agent: &Agent) -> Result<AgentId> {
    AgentId::parse(&agent.id).map_err(|_| {
        CtlError::Refused(format!(
            "the server sent an invalid agent id for {:?}",
            agent.name
        ))
    })
}

/// Reads the passphrase, fetches the public parameters and unlocks.
async fn unlock(ctx: &Ctx, args: &MasterKeyArgs) -> Result<Unlocked> {
    let source = SecretSource::from_arg(args.master_key_file.as_deref());
    let passphrase: Zeroizing<String> = input::read_secret(
        &source,
        "Master key passphrase",
        "pass --master-key-file FILE (or - for standard input)",
    )?;
    let info = ctx.client.master_key().await?;
    let user: UserId = ctx.session.user_id;
    Unlocked::unlock(info, user, passphrase).await
}
