//! `openclaw-fleet audit`: reads every text cell of the database and reports anything a
//! database thief could use. Sealed columns must hold values that open under the
//! internal key (and, for configs, hold a browser envelope for that very agent); token
//! columns must hold hashes; every other column must be free of secret-looking text.
//! Config history rows are checked like the current config, against their agent and
//! version. An activity entry's detail may hold only the facts the log records (field
//! names, version numbers, counts), so a value that reached it by mistake is a finding.
//! Agent identities are checked across cells: an Ed25519 agent must hold no HMAC
//! secret (SPEC-identity: neither a dump nor the internal key may sign as it), an HMAC
//! agent must hold one, and a stored public key must be a valid Ed25519 key.
//! Findings name the table, column and row, and what was wrong — never the
//! value.

use std::collections::{BTreeMap, BTreeSet};

use openclaw_fleet_protocol::{AgentSecret, Envelope, Kdf, PublicKey, Sealed};
use serde::Serialize;

use crate::crypto::at_rest::{AtRest, Slot};
use crate::crypto::sealed_columns::{self, Plaintext, SealedColumn};
use crate::store::history_row;
use crate::store::maintenance::Cell;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub table: String,
    pub column: String,
    pub row: String,
    pub problem: String,
}

/// Checks one cell; `None` when it is as it must be.
pub fn check_cell(cell: &Cell, at_rest: &AtRest) -> Option<String> {
    let slot = Slot {
        table: cell.table,
        column: cell.column,
        row: &cell.row,
    };
    let v = cell.value.as_str();
    if let Some(sealed) = sealed_columns::find(cell.table, cell.column) {
        return check_sealed(sealed, cell, slot, at_rest);
    }
    match (cell.table, cell.column) {
        ("agents", "wrapped_secret") | ("users", "key_check") => {
            let ok = serde_json::from_str(v)
                .ok()
                .is_some_and(|j| Sealed::parse(&j).is_ok());
            (!ok).then(|| "not a well-formed {v, alg, iv, ct} object".into())
        }
        ("users", "kdf") => {
            let ok = serde_json::from_str(v)
                .ok()
                .is_some_and(|j| Kdf::parse(&j).is_ok());
            (!ok).then(|| "not well-formed KDF parameters".into())
        }
        ("users", "password_hash") => {
            (!v.starts_with("$argon2id$")).then(|| "password is not an Argon2id hash".into())
        }
        ("sessions" | "agent_tokens" | "enrollment_tokens", "token_hash") => {
            (!is_hex_digest(v)).then(|| "expected a 64-character hex digest".into())
        }
        // A handshake's signature: HMAC hex, or an Ed25519 signature (public values).
        ("used_signatures", "signature") => {
            let ok = is_hex_digest(v) || openclaw_fleet_protocol::identity::is_signature_text(v);
            (!ok).then(|| "expected an HMAC or Ed25519 signature".into())
        }
        ("agents", "identity") => (!matches!(v, "hmac" | "ed25519"))
            .then(|| "identity is neither hmac nor ed25519".into()),
        ("agents", "public_key") => PublicKey::parse(v)
            .is_err()
            .then(|| "not a valid ocf_pk_ Ed25519 public key".into()),
        ("activity", "detail") => activity_detail_problem(v),
        ("agents", "metrics") => {
            let ok = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(v)
                .is_ok_and(|m| m.values().all(serde_json::Value::is_number));
            if ok {
                None
            } else {
                Some("metrics hold something other than numbers".into())
            }
        }
        _ => secret_pattern(v).map(|p| format!("looks like a secret ({p}) in a plaintext column")),
    }
}

fn is_hex_digest(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The cross-cell identity checks: by agent id, its identity type and whether it holds
/// a sealed HMAC secret.
fn identity_findings(cells: &[Cell]) -> Vec<Finding> {
    let mut identity = BTreeMap::new();
    let mut with_secret = BTreeSet::new();
    for c in cells.iter().filter(|c| c.table == "agents") {
        match c.column {
            "identity" => {
                identity.insert(c.row.as_str(), c.value.as_str());
            }
            "secret_sealed" => {
                with_secret.insert(c.row.as_str());
            }
            _ => {}
        }
    }
    let finding = |row: &str, problem: &str| Finding {
        table: "agents".into(),
        column: "secret_sealed".into(),
        row: row.into(),
        problem: problem.into(),
    };
    identity
        .into_iter()
        .filter_map(|(row, kind)| match (kind, with_secret.contains(row)) {
            ("ed25519", true) => Some(finding(
                row,
                "Ed25519 agent still has an HMAC secret stored (a dump and the internal key could sign as it)",
            )),
            ("hmac", false) => Some(finding(row, "HMAC agent has no secret stored")),
            _ => None,
        })
        .collect()
}

/// The facts an activity entry's detail may hold: numbers under known names, and the
/// names of edited fields.
fn activity_detail_problem(v: &str) -> Option<String> {
    use serde_json::Value;
    const NUMBERS: [&str; 4] = ["version", "restored_from", "rewrapped", "sessions_ended"];
    const FIELDS: [&str; 10] = [
        "name",
        "fleet_id",
        "policy_profile",
        "gateway_url",
        "threshold",
        "minutes",
        "cooldown_minutes",
        "enabled",
        "webhook",
        "condition",
    ];
    let Ok(map) = serde_json::from_str::<serde_json::Map<String, Value>>(v) else {
        return Some("activity detail is not a JSON object".into());
    };
    let ok = map.iter().all(|(k, val)| match (k.as_str(), val) {
        ("fields", Value::Array(names)) => names
            .iter()
            .all(|n| n.as_str().is_some_and(|n| FIELDS.contains(&n))),
        (k, Value::Number(_)) => NUMBERS.contains(&k),
        _ => false,
    });
    (!ok).then(|| "activity detail holds something other than field names and numbers".into())
}

/// A registered sealed column: opens under the current key (a value under a retired
/// key is a finding until `rotate-internal-key` has re-sealed it) and holds what it must.
fn check_sealed(
    col: &SealedColumn,
    cell: &Cell,
    slot: Slot<'_>,
    at_rest: &AtRest,
) -> Option<String> {
    let what = match col.plaintext {
        Plaintext::AgentSecret => "agent secret",
        Plaintext::ConfigEnvelope { .. } => "config",
        Plaintext::HistoryEnvelope => "config history",
        Plaintext::WebhookUrl => "webhook URL",
        Plaintext::WebhookSecret => "webhook signing secret",
    };
    let plain = match at_rest.open(slot, &cell.value) {
        Err(e) => return Some(format!("{what} not under the at-rest layer: {e}")),
        Ok(plain) => plain,
    };
    if let Some(kid) = AtRest::key_id_of(&cell.value).filter(|k| *k != at_rest.key_id()) {
        return Some(format!(
            "{what} sealed under retired key id {kid}, not the current one: run rotate-internal-key"
        ));
    }
    match col.plaintext {
        Plaintext::WebhookUrl => (!(plain.starts_with(b"https://")
            || plain.starts_with(b"http://")))
        .then(|| "sealed webhook URL is not an http(s) URL".into()),
        Plaintext::WebhookSecret => (!plain
            .starts_with(crate::crypto::tokens::WEBHOOK_PREFIX.as_bytes()))
        .then(|| "sealed webhook secret is not a signing secret".into()),
        Plaintext::AgentSecret => match std::str::from_utf8(&plain)
            .ok()
            .map(|s| AgentSecret::from_opaque(s.into()))
        {
            Some(Ok(_)) => None,
            _ => Some("sealed agent secret does not hold a secret".into()),
        },
        Plaintext::ConfigEnvelope { for_row_agent } => {
            let envelope = serde_json::from_slice(&plain)
                .ok()
                .and_then(|j| Envelope::parse(&j).ok());
            match envelope {
                Some(env) if !for_row_agent || env.agent_id.to_string() == cell.row => None,
                Some(_) => Some("config envelope names another agent".into()),
                None => Some("config is not an end-to-end encrypted envelope".into()),
            }
        }
        Plaintext::HistoryEnvelope => {
            let envelope = serde_json::from_slice(&plain)
                .ok()
                .and_then(|j| Envelope::parse(&j).ok());
            match envelope {
                Some(env)
                    if history_row(&env.agent_id.to_string(), env.version as i64) == cell.row =>
                {
                    None
                }
                Some(_) => Some("config history envelope names another agent or version".into()),
                None => Some("config history is not an end-to-end encrypted envelope".into()),
            }
        }
    }
}

/// The kind of secret-looking text in `text`, if any.
pub fn secret_pattern(text: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 8] = [
        ("ocf_as_", "agent secret"),
        ("ocf_es_", "encryption secret"),
        ("ocf_ik_", "identity key"),
        ("ocf_et_", "enrollment token"),
        ("ocf_st_", "session token"),
        ("ocf_at_", "agent token"),
        ("ocf_whs_", "webhook signing secret"),
        ("-----BEGIN", "PEM key"),
    ];
    if let Some((_, kind)) = PREFIXES.iter().find(|(p, _)| text.contains(p)) {
        return Some(kind);
    }
    if provider_key(text) {
        return Some("provider API key (sk-…)");
    }
    let hexish = |c: char| c.is_ascii_hexdigit();
    let b64ish = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_' | '=');
    if longest_run(text, hexish) >= 40 {
        return Some("long hex run");
    }
    if longest_run(text, b64ish) >= 40 {
        return Some("long base64 run");
    }
    None
}

/// `sk-` at a word start followed by at least 8 key characters.
fn provider_key(text: &str) -> bool {
    text.match_indices("sk-").any(|(i, _)| {
        let starts_word = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        let body = text[i + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_');
        starts_word && body.count() >= 8
    })
}

fn longest_run(text: &str, class: impl Fn(char) -> bool) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in text.chars() {
        cur = if class(c) { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

/// Audits every cell, then the agents' identities across cells.
pub fn audit(cells: &[Cell], at_rest: &AtRest) -> Vec<Finding> {
    let mut findings: Vec<Finding> = cells
        .iter()
        .filter_map(|c| {
            check_cell(c, at_rest).map(|problem| Finding {
                table: c.table.into(),
                column: c.column.into(),
                row: c.row.clone(),
                problem,
            })
        })
        .collect();
    findings.extend(identity_findings(cells));
    findings
}

/// A readable table of findings.
pub fn render_table(findings: &[Finding], cells: usize) -> String {
    if findings.is_empty() {
        return format!("audit: {cells} cells checked, no findings\n");
    }
    let mut out = format!("{:<16} {:<16} {:<38} PROBLEM\n", "TABLE", "COLUMN", "ROW");
    for f in findings {
        out.push_str(&format!(
            "{:<16} {:<16} {:<38} {}\n",
            f.table, f.column, f.row, f.problem
        ));
    }
    out.push_str(&format!(
        "audit: {cells} cells checked, {} findings\n",
        findings.len()
    ));
    out
}

#[cfg(test)]
mod tests;
