//! `env set KEY` (the value from standard input or a prompt, never argv) and
//! `env unset KEY`, on one agent or every agent of a fleet.

use openclaw_fleet_protocol::{valid_env_name, DocumentEdit};

use super::config::{check_stdin, print_changed};
use super::{agent_id, ctx, fleet, resolve_agent, resolve_fleet, unlock, Globals};
use crate::cli::{EnvCommand, MasterKeyArgs, Target};
use crate::configs::change;
use crate::error::{CtlError, Result};
use crate::input;

pub async fn run(g: &Globals, cmd: EnvCommand) -> Result<i32> {
    let (key, target, concurrency, master_key, setting) = match cmd {
        EnvCommand::Set {
            key,
            target,
            concurrency,
            master_key,
        } => (key, target, concurrency, master_key, true),
        EnvCommand::Unset {
            key,
            target,
            concurrency,
            master_key,
        } => (key, target, concurrency, master_key, false),
    };
    if !valid_env_name(&key) {
        return Err(CtlError::usage("KEY must match ^[A-Z_][A-Z0-9_]*$"));
    }
    check_stdin(0, &master_key, setting)?;
    let mut edit = DocumentEdit::default();
    if setting {
        edit.set_env(&key, input::read_value(&format!("Value for {key}"))?)?;
    } else {
        edit.unset_env(&key)?;
    }
    on_target(g, &target, &edit, concurrency.into(), &master_key).await
}

async fn on_target(
    g: &Globals,
    target: &Target,
    edit: &DocumentEdit,
    concurrency: usize,
    master_key: &MasterKeyArgs,
) -> Result<i32> {
    let ctx = ctx(g)?;
    match (&target.agent, &target.fleet) {
        (Some(text), _) => {
            let agent = resolve_agent(&ctx.client, text).await?;
            let id = agent_id(&agent)?;
            let unlocked = unlock(&ctx, master_key).await?;
            let changed = change(&ctx, &unlocked, &id, edit).await?;
            print_changed(g, &agent.id, &agent.name, changed);
            Ok(0)
        }
        (None, Some(text)) => {
            let fleet = resolve_fleet(&ctx.client, text).await?;
            let agents = ctx.client.agents(Some(&fleet.id), None).await?;
            let unlocked = unlock(&ctx, master_key).await?;
            let results = fleet::change_many(&ctx, &unlocked, &agents, edit, concurrency).await;
            Ok(fleet::report(g, Some(&fleet), &results))
        }
        (None, None) => Err(CtlError::usage("give --agent or --fleet")),
    }
}
