//! `config get`, `config set`, `config apply`.

use serde_json::json;

use super::{agent_id, ctx, fleet, resolve_agent, resolve_fleet, unlock, Globals};
use crate::cli::{ConfigCommand, EditArgs, MasterKeyArgs};
use crate::configs::{change, read_current, Changed};
use crate::edit_input;
use crate::error::{CtlError, Result};
use crate::output::print_json;

pub async fn run(g: &Globals, cmd: ConfigCommand) -> Result<i32> {
    match cmd {
        ConfigCommand::Get { agent, master_key } => get(g, &agent, &master_key).await,
        ConfigCommand::Set {
            agent,
            edit,
            master_key,
        } => set(g, &agent, &edit, &master_key).await,
        ConfigCommand::Apply {
            fleet,
            edit,
            concurrency,
            master_key,
        } => apply(g, &fleet, &edit, concurrency.into(), &master_key).await,
    }
}

/// Standard input can carry one thing only.
pub fn check_stdin(edit_readers: usize, master_key: &MasterKeyArgs, value_too: bool) -> Result<()> {
    let key = usize::from(
        master_key
            .master_key_file
            .as_deref()
            .is_some_and(|p| p.as_os_str() == "-"),
    );
    if edit_readers + key + usize::from(value_too) > 1 {
        return Err(CtlError::usage(
            "standard input (-) can feed only one input: give the others as files",
        ));
    }
    Ok(())
}

async fn get(g: &Globals, text: &str, master_key: &MasterKeyArgs) -> Result<i32> {
    let ctx = ctx(g)?;
    let agent = resolve_agent(&ctx.client, text).await?;
    let id = agent_id(&agent)?;
    let unlocked = unlock(&ctx, master_key).await?;
    let current = read_current(&ctx, &unlocked, &id).await?;
    let doc = current.doc.expose();
    let text = if g.json {
        serde_json::to_string(doc)
    } else {
        serde_json::to_string_pretty(doc)
    }
    .expect("JSON");
    let text = zeroize::Zeroizing::new(text);
    println!("{}", text.as_str());
    if current.version == 0 {
        eprintln!("(agent {} has no config stored yet)", agent.name);
    }
    Ok(0)
}

async fn set(g: &Globals, text: &str, edit: &EditArgs, master_key: &MasterKeyArgs) -> Result<i32> {
    check_stdin(edit_input::stdin_readers(edit), master_key, false)?;
    let ctx = ctx(g)?;
    let agent = resolve_agent(&ctx.client, text).await?;
    let id = agent_id(&agent)?;
    let edit = edit_input::build(edit)?;
    let unlocked = unlock(&ctx, master_key).await?;
    let changed = change(&ctx, &unlocked, &id, &edit).await?;
    print_changed(g, &agent.id, &agent.name, changed);
    Ok(0)
}

pub fn print_changed(g: &Globals, id: &str, name: &str, changed: Changed) {
    let (result, version, retries) = match changed {
        Changed::Applied { version, retries } => ("applied", version, retries),
        Changed::Unchanged { version } => ("unchanged", version, 0),
    };
    if g.json {
        print_json(
            &json!({"agent_id": id, "name": name, "result": result, "version": version, "retries": retries}),
        );
    } else if result == "applied" {
        println!("Agent {name}: saved config version {version}.");
    } else {
        println!("Agent {name}: no change (config version {version} already says so).");
    }
}

async fn apply(
    g: &Globals,
    fleet_text: &str,
    edit: &EditArgs,
    concurrency: usize,
    master_key: &MasterKeyArgs,
) -> Result<i32> {
    check_stdin(edit_input::stdin_readers(edit), master_key, false)?;
    let ctx = ctx(g)?;
    let fleet = resolve_fleet(&ctx.client, fleet_text).await?;
    let agents = ctx.client.agents(Some(&fleet.id), None).await?;
    let edit = edit_input::build(edit)?;
    let unlocked = unlock(&ctx, master_key).await?;
    let results = fleet::change_many(&ctx, &unlocked, &agents, &edit, concurrency).await;
    Ok(fleet::report(g, Some(&fleet), &results))
}
