//! A small client for a server subprocess: the first account, agents, handshakes,
//! heartbeats and configs, as the dashboard and the hosts do them.

use std::sync::atomic::{AtomicI64, Ordering};

use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::{json, Value};

use crate::common::fixtures::{config_document, envelope, heartbeat, signed};
use crate::common::{wall_clock, PASSWORD};

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    /// Handshakes sign successive past seconds, so none reuses a signature.
    skew: AtomicI64,
}

pub struct Host {
    pub id: String,
    pub secret: String,
    pub es: EncryptionSecret,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::new(),
            skew: AtomicI64::new(0),
        }
    }

    /// A client for another server on the same data: it goes on signing other seconds.
    pub fn moved_to(&self, base: &str) -> Self {
        let moved = Self::new(base);
        moved
            .skew
            .store(self.skew.load(Ordering::Relaxed), Ordering::Relaxed);
        moved
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut rb = self.http.request(
            method.parse().expect("method"),
            format!("{}{path}", self.base),
        );
        if !token.is_empty() {
            rb = rb.bearer_auth(token);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let res = rb.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Registers (when `register`) and logs in `email`; returns the session token.
    pub async fn owner(&self, email: &str, register: bool) -> String {
        let creds = json!({"email": email, "password": PASSWORD});
        if register {
            let (status, body) = self
                .call("POST", "/api/auth/register", "", Some(&creds))
                .await;
            assert_eq!(status, 201, "{body}");
        }
        let (status, body) = self.call("POST", "/api/auth/login", "", Some(&creds)).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// Creates an agent and stores a config for it (version 1) sealed with a fresh
    /// ENCRYPTION_SECRET, as the dashboard does.
    pub async fn host(&self, owner: &str, name: &str) -> Host {
        let (status, body) = self
            .call("POST", "/api/agents", owner, Some(&json!({"name": name})))
            .await;
        assert_eq!(status, 201, "{body}");
        let host = Host {
            id: body["agent"]["id"].as_str().expect("id").into(),
            secret: body["agent_secret"].as_str().expect("secret").into(),
            es: EncryptionSecret::generate(),
        };
        let env = envelope(&host.es, &host.id, 1, &config_document(name));
        let (status, body) = self
            .call(
                "PUT",
                &format!("/api/agents/{}/config", host.id),
                owner,
                Some(&json!({"config": env})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        host
    }

    /// A signed handshake; its answer.
    pub async fn handshake(&self, host: &Host) -> (u16, Value) {
        let ts = wall_clock() - self.skew.fetch_add(1, Ordering::Relaxed) % 50;
        let body = signed(&host.id, &host.secret, ts);
        self.call("POST", "/api/agents/handshake", "", Some(&body))
            .await
    }

    /// A handshake that must succeed; the agent token.
    pub async fn agent_token(&self, host: &Host) -> String {
        let (status, body) = self.handshake(host).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    pub async fn heartbeat(&self, host: &Host, token: &str) -> u16 {
        let body = heartbeat(&host.id, "healthy", json!({"cpu_usage": 7}));
        self.call("POST", "/api/heartbeat", token, Some(&body))
            .await
            .0
    }
}

/// Opens a config envelope with the agent's ENCRYPTION_SECRET, as the agent does.
pub fn open_config(host: &Host, config: &Value) -> Value {
    let env = openclaw_fleet_protocol::Envelope::parse(config).expect("an envelope");
    let id = openclaw_fleet_protocol::AgentId::parse(&host.id).expect("agent id");
    let plain = env.open(&host.es, &id).expect("the agent opens its config");
    serde_json::from_slice(&plain).expect("a JSON document")
}
