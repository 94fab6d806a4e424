//! Operator commands for automation (`user create`, `agent create`): they open the same
//! storage as `serve` and go through the same access layer, printing JSON.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use openclaw_fleet_protocol::{Name, PolicyProfile};
use serde_json::json;
use zeroize::Zeroizing;

use crate::access::{AppState, Owner};
use crate::clock::SystemClock;
use crate::error::ApiError;
use crate::settings::Settings;
use crate::startup::open_storage;

async fn state(settings: Settings) -> anyhow::Result<AppState> {
    let (store, at_rest) = open_storage(&settings).await?;
    Ok(AppState::new(
        store,
        at_rest,
        Arc::new(SystemClock),
        settings,
    ))
}

/// Reads a password from a file, or from stdin for `-`; one trailing newline is dropped.
fn read_password(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from stdin")?;
    } else {
        *text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read password file {}", path.display()))?;
    }
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(Zeroizing::new(trimmed.to_string()))
}

/// Turns an API error into a one-line CLI error (its message never holds a secret).
fn cli_error(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", e, e.status().1)
}

pub async fn user_create(
    settings: Settings,
    email: &str,
    password_file: &Path,
) -> anyhow::Result<()> {
    let password = read_password(password_file)?;
    let state = state(settings).await?;
    let user = state
        .public()
        .register(email, &password, true)
        .await
        .map_err(cli_error)?;
    println!("{}", json!({ "user": user }));
    Ok(())
}

pub async fn agent_create(
    settings: Settings,
    owner_email: &str,
    name: &str,
    fleet: Option<&str>,
    policy: &str,
) -> anyhow::Result<()> {
    let state = state(settings).await?;
    let owner = match Owner::for_operator(&state, owner_email).await {
        Ok(o) => o,
        Err(ApiError::NotFound) => bail!("no account with email {owner_email}"),
        Err(e) => return Err(cli_error(e)),
    };
    let name = Name::parse(name)?;
    let policy = PolicyProfile::parse(policy)?;
    let fleet_id = match fleet {
        None => None,
        Some(key) => Some(
            match owner.fleet_by_id_or_name(key).await.map_err(cli_error)? {
                Some(f) => f.id,
                None => {
                    owner
                        .create_fleet(&Name::parse(key)?)
                        .await
                        .map_err(cli_error)?
                        .id
                }
            },
        ),
    };
    let created = owner
        .create_agent(&name, fleet_id.as_deref(), Some(&policy), None, false)
        .await
        .map_err(cli_error)?;
    println!(
        "{}",
        json!({ "id": created.agent.id, "agent": created.agent, "agent_secret": created.agent_secret })
    );
    Ok(())
}

fn no_account(email: &str, e: ApiError) -> anyhow::Error {
    match e {
        ApiError::NotFound => anyhow::anyhow!("no account with email {email}"),
        other => cli_error(other),
    }
}

/// `user list`, `user reset-password`, `user disable`, `user enable`.
pub enum UserAction {
    List,
    ResetPassword {
        email: String,
        password_file: std::path::PathBuf,
    },
    SetDisabled {
        email: String,
        disabled: bool,
    },
}

pub async fn user_action(settings: Settings, action: UserAction) -> anyhow::Result<()> {
    match action {
        UserAction::List => {
            let state = state(settings).await?;
            let users = state.operator().accounts().await.map_err(cli_error)?;
            println!("{}", json!({ "users": users }));
        }
        UserAction::ResetPassword {
            email,
            password_file,
        } => {
            let password = read_password(&password_file)?;
            let state = state(settings).await?;
            let ended = state
                .operator()
                .reset_password(&email, &password)
                .await
                .map_err(|e| no_account(&email, e))?;
            println!(
                "{}",
                json!({ "email": email.trim().to_lowercase(), "password_reset": true, "ended_sessions": ended })
            );
        }
        UserAction::SetDisabled { email, disabled } => {
            let state = state(settings).await?;
            let ended = state
                .operator()
                .set_disabled(&email, disabled)
                .await
                .map_err(|e| no_account(&email, e))?;
            println!(
                "{}",
                json!({ "email": email.trim().to_lowercase(), "disabled": disabled, "ended_sessions": ended })
            );
        }
    }
    Ok(())
}

/// `openclaw-fleet audit`: returns whether the database is clean.
pub async fn audit(settings: Settings, as_json: bool) -> anyhow::Result<bool> {
    let (store, at_rest) = open_storage(&settings).await?;
    let cells = store.text_cells().await?;
    let findings = crate::audit::audit(&cells, &at_rest);
    if as_json {
        println!(
            "{}",
            json!({ "cells_checked": cells.len(), "findings": findings, "clean": findings.is_empty() })
        );
    } else {
        print!("{}", crate::audit::render_table(&findings, cells.len()));
    }
    Ok(findings.is_empty())
}
