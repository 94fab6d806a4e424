//! `agents list`, `agents show`, `agents setup-encryption`.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::json;

use super::{agent_id, ctx, resolve_agent, resolve_fleet, unlock, Globals};
use crate::api::Agent;
use crate::cli::AgentsCommand;
use crate::error::{CtlError, Result};
use crate::output::{ago, or_dash, print_json, print_table, table};

pub async fn run(g: &Globals, cmd: AgentsCommand) -> Result<i32> {
    match cmd {
        AgentsCommand::List { fleet, status } => list(g, fleet, status).await,
        AgentsCommand::Show { agent } => show(g, &agent).await,
        AgentsCommand::SetupEncryption {
            agent,
            secret_file,
            master_key,
        } => {
            let ctx = ctx(g)?;
            let agent = resolve_agent(&ctx.client, &agent).await?;
            let id = agent_id(&agent)?;
            if ctx.client.agent(&agent.id).await?.wrapped_secret.is_some() {
                return Err(CtlError::Conflict(format!(
                    "agent {} already has an encryption secret (replacing it would cut the host \
                     off from its configs until it gets the new one; do that in the dashboard)",
                    agent.name
                )));
            }
            let unlocked = unlock(&ctx, &master_key).await?;
            let secret = EncryptionSecret::generate();
            write_new_secret_file(&secret_file, &secret)?;
            let (wrapped, key_check) = unlocked.wrap_secret(&id, &secret);
            if let Err(e) = ctx
                .client
                .put_wrapped_secret(&agent.id, &wrapped, key_check)
                .await
            {
                let _ = std::fs::remove_file(&secret_file);
                return Err(e);
            }
            if g.json {
                print_json(
                    &json!({"agent_id": agent.id, "name": agent.name, "secret_file": secret_file}),
                );
            } else {
                println!(
                    "Agent {}: encryption secret written to {}. Install it on the host \
                     (OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE) and restart the agent.",
                    agent.name,
                    secret_file.display()
                );
            }
            Ok(0)
        }
    }
}

/// Creates `path` (mode 0600, never over an existing file) holding the secret.
fn write_new_secret_file(path: &Path, secret: &EncryptionSecret) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CtlError::file(path, "create", e))?;
    let mut text = secret.to_encoded();
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CtlError::file(path, "write", e))
}

async fn list(g: &Globals, fleet: Option<String>, status: Option<String>) -> Result<i32> {
    let ctx = ctx(g)?;
    let fleet_id = match &fleet {
        Some(f) => Some(resolve_fleet(&ctx.client, f).await?.id),
        None => None,
    };
    let agents = ctx
        .client
        .agents(fleet_id.as_deref(), status.as_deref())
        .await?;
    if g.json {
        print_json(&json!({ "agents": agents }));
        return Ok(0);
    }
    let fleets: HashMap<String, String> = ctx
        .client
        .fleets()
        .await?
        .into_iter()
        .map(|f| (f.id, f.name))
        .collect();
    let mut t = table(&["NAME", "ID", "FLEET", "STATUS", "LAST SEEN", "CONFIG"]);
    for a in &agents {
        t.add_row(vec![
            a.name.clone(),
            a.id.clone(),
            or_dash(
                a.fleet_id
                    .as_ref()
                    .and_then(|f| fleets.get(f))
                    .map(String::as_str),
            ),
            a.status.clone(),
            ago(a.last_seen),
            config_state(a),
        ]);
    }
    print_table(&t);
    eprintln!("{} agent(s)", agents.len());
    Ok(0)
}

/// "v3 applied", "v3 (host has v2)", or "-" when none is stored.
fn config_state(a: &Agent) -> String {
    match (a.config_version, a.config_version_applied) {
        (0, _) => "-".into(),
        (v, Some(applied)) if applied == v => format!("v{v} applied"),
        (v, Some(applied)) => format!("v{v} (host has v{applied})"),
        (v, None) => format!("v{v} (not applied yet)"),
    }
}

async fn show(g: &Globals, text: &str) -> Result<i32> {
    let ctx = ctx(g)?;
    let found = resolve_agent(&ctx.client, text).await?;
    let detail = ctx.client.agent(&found.id).await?;
    let a = &detail.agent;
    let has_secret = detail.wrapped_secret.is_some();
    if g.json {
        let mut v = serde_json::to_value(a).expect("JSON");
        v["has_encryption_secret"] = json!(has_secret);
        print_json(&v);
        return Ok(0);
    }
    let fleet = match &a.fleet_id {
        Some(id) => ctx
            .client
            .fleets()
            .await?
            .into_iter()
            .find(|f| &f.id == id)
            .map(|f| f.name),
        None => None,
    };
    let metrics = a
        .metrics
        .as_ref()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|s| !s.is_empty());
    let rows = [
        ("name", a.name.clone()),
        ("id", a.id.clone()),
        ("fleet", or_dash(fleet.as_deref())),
        ("status", a.status.clone()),
        ("error", or_dash(a.error.as_deref())),
        ("last seen", ago(a.last_seen)),
        ("agent version", or_dash(a.version.as_deref())),
        ("policy", or_dash(a.policy_profile.as_deref())),
        ("gateway", or_dash(a.gateway_url.as_deref())),
        ("config", config_state(a)),
        (
            "encryption secret",
            if has_secret { "set up" } else { "not set up" }.into(),
        ),
        ("metrics", or_dash(metrics.as_deref())),
    ];
    for (k, v) in rows {
        println!("{k:<18} {v}");
    }
    Ok(0)
}
