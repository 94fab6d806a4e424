//! The same edit on many agents: at most `concurrency` agents in flight, one
//! result per agent (applied, unchanged, no encryption secret yet, conflict,
//! refused, failed), printed as a table or JSON. Exit code 1 when any agent
//! was not changed as asked; the others keep their new versions.

use std::io::IsTerminal;

use futures::stream::{self, StreamExt};
use openclaw_fleet_protocol::DocumentEdit;
use serde::Serialize;
use serde_json::json;

use super::{agent_id, Globals};
use crate::api::{Agent, Fleet};
use crate::configs::{change, Changed, Ctx};
use crate::error::{exit, CtlError};
use crate::output::{print_json, print_table, table};
use crate::unlock::Unlocked;

#[derive(Debug, Serialize)]
pub struct AgentResult {
    pub agent_id: String,
    pub name: String,
    /// applied, unchanged, no_encryption_secret, conflict, refused or failed
    pub result: &'static str,
    pub version: Option<u64>,
    /// Saves lost to a concurrent change and retried.
    pub retries: u32,
    pub error: Option<String>,
}

impl AgentResult {
    pub fn succeeded(&self) -> bool {
        matches!(self.result, "applied" | "unchanged")
    }
}

fn result_for(agent: &Agent, outcome: Result<Changed, CtlError>) -> AgentResult {
    let (result, version, retries, error) = match outcome {
        Ok(Changed::Applied { version, retries }) => ("applied", Some(version), retries, None),
        Ok(Changed::Unchanged { version }) => ("unchanged", Some(version), 0, None),
        Err(e) => {
            let kind = match &e {
                CtlError::NoEncryptionSecret(_) => "no_encryption_secret",
                CtlError::VersionConflict { .. } => "conflict",
                CtlError::Refused(_) => "refused",
                _ => "failed",
            };
            (kind, None, 0, Some(e.to_string()))
        }
    };
    AgentResult {
        agent_id: agent.id.clone(),
        name: agent.name.clone(),
        result,
        version,
        retries,
        error,
    }
}

pub async fn change_many(
    ctx: &Ctx,
    unlocked: &Unlocked,
    agents: &[Agent],
    edit: &DocumentEdit,
    concurrency: usize,
) -> Vec<AgentResult> {
    let total = agents.len();
    let progress = std::io::stderr().is_terminal();
    let mut done = 0usize;
    let mut results: Vec<AgentResult> = stream::iter(agents)
        .map(|agent| async move {
            let outcome = match agent_id(agent) {
                Ok(id) => change(ctx, unlocked, &id, edit).await,
                Err(e) => Err(e),
            };
            result_for(agent, outcome)
        })
        .buffer_unordered(concurrency.max(1))
        .inspect(|r| {
            done += 1;
            if progress {
                eprintln!("[{done}/{total}] {}: {}", r.name, r.result);
            }
        })
        .collect()
        .await;
    results.sort_by(|a, b| a.name.cmp(&b.name).then(a.agent_id.cmp(&b.agent_id)));
    results
}

/// Prints the results and returns the exit code.
pub fn report(g: &Globals, fleet: Option<&Fleet>, results: &[AgentResult]) -> i32 {
    let failed = results.iter().filter(|r| !r.succeeded()).count();
    let count = |what: &str| results.iter().filter(|r| r.result == what).count();
    if g.json {
        print_json(&json!({
            "fleet": fleet.map(|f| json!({"id": f.id, "name": f.name})),
            "results": results,
            "applied": count("applied"),
            "unchanged": count("unchanged"),
            "failed": failed,
        }));
    } else {
        let mut t = table(&["AGENT", "ID", "RESULT", "VERSION", "DETAIL"]);
        for r in results {
            let detail = match (&r.error, r.retries) {
                (Some(e), _) => e.clone(),
                (None, 0) => String::new(),
                (None, n) => format!("saved after {n} concurrent change(s)"),
            };
            t.add_row(vec![
                r.name.clone(),
                r.agent_id.clone(),
                r.result.to_owned(),
                r.version.map_or("-".into(), |v| v.to_string()),
                detail,
            ]);
        }
        print_table(&t);
        println!(
            "{} applied, {} unchanged, {} failed (of {})",
            count("applied"),
            count("unchanged"),
            failed,
            results.len()
        );
    }
    if failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}
