//! A hostile fleet server for tests: a small axum app that speaks the agent
//! API (verifying the agent's real handshake signature) but serves whatever
//! envelope the test hands it: an older version, another agent's, a forgery.
//! It records every heartbeat, can revoke tokens and hand out renewed ones.
//! With [`Hostile::expect_enrollment`] it also enrolls an Ed25519 key (the
//! token single use, the proof checked strictly) and verifies handshakes
//! signed with it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use openclaw_fleet_protocol::{
    canonical_timestamp, handshake_message, verify, AgentSecret, EnrollRequest, PublicKey,
};
use serde_json::{json, Value};

#[derive(Default)]
pub struct Recorded {
    pub envelope: Option<Value>,
    pub config_version: u64,
    pub heartbeats: Vec<(String, Value)>,
    pub handshakes: Vec<Value>,
    pub config_polls: usize,
    pub tokens: HashSet<String>,
    pub renew_next: bool,
    /// Seconds the server's clock is ahead of the host's (behind when negative).
    pub clock_offset: i64,
    /// Every handshake body received, accepted or not.
    pub attempts: Vec<Value>,
    /// The enrollment token it accepts, once.
    pub enrollment_token: Option<String>,
    /// The enrolled public key; Ed25519 handshakes are verified with it.
    pub public_key: Option<String>,
    /// Every enrollment body received, accepted or not.
    pub enrolls: Vec<Value>,
    issued: usize,
}

#[derive(Clone)]
pub struct Hostile {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<Recorded>>,
    secret: Arc<String>,
}

impl Hostile {
    pub async fn spawn(agent_secret: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let this = Self {
            addr: listener.local_addr().expect("addr"),
            state: Arc::default(),
            secret: Arc::new(agent_secret.to_string()),
        };
        let app = Router::new()
            .route("/api/agents/handshake", post(handshake))
            .route("/api/agents/enroll", post(enroll))
            .route("/api/heartbeat", post(heartbeat))
            .route("/api/agents/{id}/config", get(config))
            .with_state(this.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        this
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn serve(&self, envelope: Value) {
        let mut s = self.state.lock().unwrap();
        s.config_version = envelope["version"].as_u64().unwrap_or(0);
        s.envelope = Some(envelope);
    }

    pub fn heartbeats(&self) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        s.heartbeats.iter().map(|(_, b)| b.clone()).collect()
    }

    pub fn last_heartbeat(&self) -> Option<(String, Value)> {
        self.state.lock().unwrap().heartbeats.last().cloned()
    }

    pub fn handshake_count(&self) -> usize {
        self.state.lock().unwrap().handshakes.len()
    }

    pub fn expect_enrollment(&self, token: &str) {
        self.state.lock().unwrap().enrollment_token = Some(token.to_string());
    }

    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }
}

fn unauthorized() -> Response {
    let body = json!({"error": "unauthorized", "message": "no"});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string()
}

fn policy() -> Value {
    json!({"name": "dev", "heartbeat_interval": 1, "skills": [], "tools": [], "guardrails": []})
}

async fn enroll(State(h): State<Hostile>, Json(body): Json<Value>) -> Response {
    let mut s = h.state.lock().unwrap();
    s.enrolls.push(body.clone());
    let Ok(req) = EnrollRequest::parse(&body) else {
        return unauthorized();
    };
    let fresh = (req.timestamp as i64 - super::wall_clock()).abs() <= 60;
    let token_ok = s.enrollment_token.as_deref() == Some(req.enrollment_token.expose_secret());
    if !(fresh && token_ok && req.verify_proof()) {
        return unauthorized();
    }
    s.enrollment_token = None;
    s.public_key = Some(req.public_key.to_encoded());
    Json(json!({"agent_id": req.agent_id.to_string(), "identity": "ed25519"})).into_response()
}

async fn handshake(State(h): State<Hostile>, Json(body): Json<Value>) -> Response {
    let id = body["agent_id"].as_str().unwrap_or_default();
    let now = super::wall_clock() + h.state.lock().unwrap().clock_offset;
    h.state.lock().unwrap().attempts.push(body.clone());
    let ts = canonical_timestamp(&body["timestamp"]).map_or(0, |(n, _)| n as i64);
    if (ts - now).abs() > 60 {
        let body = json!({"error": "timestamp_out_of_window", "server_time": now});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let enrolled = h.state.lock().unwrap().public_key.clone();
    let signature = body["signature"].as_str().unwrap_or("");
    let signed = body["timestamp"].is_string()
        && canonical_timestamp(&body["timestamp"]).is_ok_and(|(_, ts)| match &enrolled {
            Some(pk) => {
                body["alg"] == "ed25519"
                    && PublicKey::parse(pk)
                        .expect("enrolled key")
                        .verify_text(&handshake_message(id, &ts), signature)
            }
            None => {
                let secret = AgentSecret::parse(&h.secret).expect("agent secret");
                body.get("alg").is_none() && verify(id, &ts, &secret, signature)
            }
        });
    if !signed {
        return unauthorized();
    }
    let mut s = h.state.lock().unwrap();
    s.handshakes.push(body.clone());
    s.issued += 1;
    let token = format!("token-{}", s.issued);
    s.tokens.insert(token.clone());
    Json(json!({
        "token": token, "expires_in": 3600, "heartbeat_interval": 1, "policy": policy(),
        "gateway_url": null, "config": s.envelope, "config_version": s.config_version,
        "server_time": super::wall_clock(),
    }))
    .into_response()
}

async fn heartbeat(
    State(h): State<Hostile>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let token = bearer(&headers);
    let mut s = h.state.lock().unwrap();
    if !s.tokens.contains(&token) {
        return unauthorized();
    }
    s.heartbeats.push((token, body));
    let mut answer = json!({
        "message": "Heartbeat received", "status": "healthy", "policy": policy(),
        "heartbeat_interval": 1, "config_version": s.config_version,
    });
    if std::mem::take(&mut s.renew_next) {
        s.issued += 1;
        let renewed = format!("renewed-{}", s.issued);
        s.tokens.insert(renewed.clone());
        answer["token"] = json!(renewed);
        answer["expires_in"] = json!(3600);
    }
    Json(answer).into_response()
}

/// Answers at once with whatever it serves (no long-poll wait).
async fn config(State(h): State<Hostile>, headers: HeaderMap) -> Response {
    let mut s = h.state.lock().unwrap();
    if !s.tokens.contains(&bearer(&headers)) {
        return unauthorized();
    }
    s.config_polls += 1;
    Json(json!({"config": s.envelope, "config_version": s.config_version})).into_response()
}

/// A stand-in for the local OpenClaw gateway: any GET answers 200.
pub async fn spawn_gateway() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}/")
}
