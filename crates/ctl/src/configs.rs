//! Reading and saving one agent's config the way the dashboard does, under
//! the same rules (SPEC §4–5): unwrap the agent's secret with the unlocked
//! master key, refuse a rollback (an envelope or stored version below what
//! the server claims or this CLI has seen) and anything that fails
//! authentication, then seal the edited document as stored version + 1 and
//! upload it with the server's version check. A lost race (409) re-reads and
//! re-applies the edit, a bounded number of times.

use std::time::Duration;

use openclaw_fleet_protocol::{
    check_document, zeroize_value, AgentId, DocumentEdit, EncryptionSecret, Envelope,
};
use rand::Rng;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::api::{Agent, Client};
use crate::error::{CtlError, Result};
use crate::local::seen::SeenVersions;
use crate::local::session::Session;
use crate::unlock::Unlocked;

/// Saves tried before a conflict is reported (the first try included).
pub const MAX_ATTEMPTS: u32 = 5;
/// The server's limit for a config body (docs/api.md).
const MAX_CONFIG_BODY: usize = 64 * 1024;

/// Everything a command needs to talk to the server as the logged-in owner.
pub struct Ctx {
    pub client: Client,
    pub session: Session,
    pub seen: SeenVersions,
}

/// A decrypted config document; its strings are wiped on drop.
pub struct SecretDoc(Value);

impl SecretDoc {
    pub fn expose(&self) -> &Value {
        &self.0
    }
}

impl Drop for SecretDoc {
    fn drop(&mut self) {
        zeroize_value(&mut self.0);
    }
}

/// An agent's current config, decrypted.
pub struct Current {
    pub agent: Agent,
    pub version: u64,
    pub doc: SecretDoc,
    secret: EncryptionSecret,
}

fn rollback(agent: &AgentId, offered: u64, floor: u64, why: &str) -> CtlError {
    CtlError::Refused(format!(
        "refusing the config of agent {agent}: the server offers version {offered}, but {why} \
         version {floor}. The server may be replaying an old config"
    ))
}

/// Reads, checks and decrypts the stored config of `id`.
pub async fn read_current(ctx: &Ctx, unlocked: &Unlocked, id: &AgentId) -> Result<Current> {
    let detail = ctx.client.agent(&id.to_string()).await?;
    let seen = ctx.seen.get(&ctx.session.url, id)?;
    let stored = detail.agent.config_version;
    if stored < seen {
        return Err(rollback(id, stored, seen, "this CLI has already seen"));
    }
    let wrapped = detail
        .wrapped_secret
        .as_ref()
        .ok_or_else(|| CtlError::NoEncryptionSecret(detail.agent.name.clone()))?;
    let secret = unlocked.unwrap_secret(id, wrapped)?;
    let (version, doc) = match &detail.config {
        None if stored == 0 => (0, json!({"schema": 1, "env": {}, "openclaw": {}})),
        None => {
            return Err(CtlError::Refused(format!(
                "the server says agent {id} has config version {stored} but sent none"
            )))
        }
        Some(value) => open_envelope(id, value, &secret, stored, seen)?,
    };
    if version > 0 {
        ctx.seen.record(&ctx.session.url, id, version)?;
    }
    Ok(Current {
        agent: detail.agent,
        version,
        doc: SecretDoc(doc),
        secret,
    })
}

fn open_envelope(
    id: &AgentId,
    value: &Value,
    secret: &EncryptionSecret,
    stored: u64,
    seen: u64,
) -> Result<(u64, Value)> {
    let envelope = Envelope::parse(value).map_err(|e| {
        CtlError::Refused(format!(
            "the stored config of agent {id} is not an envelope ({e})"
        ))
    })?;
    if envelope.version < stored {
        return Err(rollback(id, envelope.version, stored, "it says it stores"));
    }
    if envelope.version < seen {
        return Err(rollback(
            id,
            envelope.version,
            seen,
            "this CLI has already seen",
        ));
    }
    if envelope.version != stored {
        return Err(CtlError::Refused(format!(
            "the server says agent {id} stores version {stored} but sent version {}",
            envelope.version
        )));
    }
    let plaintext = envelope.open(secret, id).map_err(|e| {
        CtlError::Refused(format!(
            "the stored config of agent {id} fails authentication ({e}): it was altered, \
             or sealed with another secret"
        ))
    })?;
    let doc: Value = serde_json::from_slice(&plaintext)
        .map_err(|_| CtlError::Refused(format!("the stored config of agent {id} is not JSON")))?;
    let mut doc = SecretDoc(doc);
    check_document(&doc.0).map_err(|e| {
        CtlError::Refused(format!(
            "the stored config of agent {id} is not a valid document ({e})"
        ))
    })?;
    Ok((envelope.version, std::mem::take(&mut doc.0)))
}

/// What a change did to one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// Saved as `version` after `retries` lost races.
    Applied { version: u64, retries: u32 },
    /// The edit changes nothing: no new version was saved.
    Unchanged { version: u64 },
}

/// Applies `edit` to the stored config of `id` and saves it as a new version.
pub async fn change(
    ctx: &Ctx,
    unlocked: &Unlocked,
    id: &AgentId,
    edit: &DocumentEdit,
) -> Result<Changed> {
    for attempt in 0..MAX_ATTEMPTS {
        let mut current = read_current(ctx, unlocked, id).await?;
        if !edit.apply(&mut current.doc.0)? {
            return Ok(Changed::Unchanged {
                version: current.version,
            });
        }
        let next = current.version + 1;
        let plaintext = Zeroizing::new(serde_json::to_vec(&current.doc.0).expect("JSON"));
        let envelope = Envelope::seal(&current.secret, id, next, &plaintext)?.to_json();
        let body_len = json!({ "config": &envelope }).to_string().len();
        if body_len > MAX_CONFIG_BODY {
            return Err(CtlError::usage(format!(
                "the sealed config of agent {id} would be {body_len} bytes; the server accepts at most {MAX_CONFIG_BODY}"
            )));
        }
        match ctx.client.put_config(&id.to_string(), &envelope).await {
            Ok(saved) if saved == next => {
                ctx.seen.record(&ctx.session.url, id, next)?;
                return Ok(Changed::Applied {
                    version: next,
                    retries: attempt,
                });
            }
            Ok(saved) => {
                return Err(CtlError::Refused(format!(
                    "the server says it stored version {saved} of agent {id}, not {next}"
                )))
            }
            Err(CtlError::VersionConflict { .. }) if attempt + 1 < MAX_ATTEMPTS => {
                let pause = rand::thread_rng().gen_range(20..=100u64) << attempt;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the last attempt returns")
}
