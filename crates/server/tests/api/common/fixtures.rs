//! What real clients send, built with the protocol crate: signed handshake bodies,
//! heartbeats, sealed config envelopes and master-key material (SPEC §2–5).

use openclaw_fleet_protocol::{
    b64u, sign, AgentId, AgentSecret, EncryptionSecret, Envelope, UserId, WrapKey,
};
use rand::RngCore;
use serde_json::{json, Value};

pub fn secret(text: &str) -> AgentSecret {
    AgentSecret::parse(text).expect("an ocf_as_ secret")
}

/// A handshake body signed over the canonical timestamp `ts`.
pub fn signed(agent_id: &str, secret_text: &str, ts: i64) -> Value {
    let ts = ts.to_string();
    json!({
        "agent_id": agent_id,
        "timestamp": ts,
        "signature": sign(agent_id, &ts, &secret(secret_text)),
    })
}

pub fn heartbeat(agent_id: &str, status: &str, metrics: Value) -> Value {
    json!({ "agent_id": agent_id, "status": status, "metrics": metrics })
}

pub fn config_document(marker: &str) -> Value {
    json!({
        "schema": 1,
        "env": { "ANTHROPIC_API_KEY": format!("sk-ant-{marker}") },
        "openclaw": { "agents": { "defaults": { "model": "claude" } } },
    })
}

/// A SPEC §4 envelope sealed with a real ENCRYPTION_SECRET, as the dashboard makes it.
pub fn envelope(es: &EncryptionSecret, agent_id: &str, version: u64, doc: &Value) -> Value {
    let id = AgentId::parse(agent_id).expect("agent id");
    let plaintext = serde_json::to_vec(doc).expect("json");
    Envelope::seal(es, &id, version, &plaintext)
        .expect("seal")
        .to_json()
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

pub fn kdf(iterations: u64) -> Value {
    json!({
        "alg": "PBKDF2-SHA256",
        "iterations": iterations,
        "salt": b64u::encode(&random_bytes::<16>()),
    })
}

/// A wrap key standing in for one derived from a passphrase: the server never sees
/// either, so deriving 600000 PBKDF2 rounds would only slow the suite.
pub struct Wrap(WrapKey);

impl Default for Wrap {
    fn default() -> Self {
        Self(WrapKey::from_bytes(random_bytes()))
    }
}

impl Wrap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn key_check(&self, user_id: &str) -> Value {
        self.0
            .make_key_check(&UserId::parse(user_id).expect("user id"))
            .to_json()
    }

    pub fn wrapped(&self, user_id: &str, agent_id: &str) -> Value {
        self.0
            .wrap_secret(
                &UserId::parse(user_id).expect("user id"),
                &AgentId::parse(agent_id).expect("agent id"),
                &EncryptionSecret::generate(),
            )
            .to_json()
    }
}

/// The agent ids of a `GET /api/agents` page, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_string())
        .collect()
}
