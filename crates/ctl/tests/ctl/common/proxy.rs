//! A hostile man in the middle for the CLI's guards: forwards every call to
//! the real server and, when told to, rewrites answers the way a compromised
//! server would (weak KDF parameters, an old or altered envelope, a lower
//! stored version), or races the CLI by saving a real competing version on
//! the real server just before forwarding the CLI's save.

use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use openclaw_fleet_protocol::{AgentId, EncryptionSecret};
use serde_json::{json, Value};

#[derive(Default)]
pub struct Rules {
    /// Hand out these KDF iterations in `GET /api/me/master-key`.
    pub kdf_iterations: Option<u64>,
    /// Serve this envelope as the agent's stored config (`GET /api/agents/{id}`).
    pub envelope: Option<Value>,
    /// Claim this stored version (`config_version`) for the agent.
    pub config_version: Option<u64>,
    /// Flip one byte of the served envelope's ciphertext.
    pub flip_ciphertext: bool,
    /// Before forwarding a config save, save a competing version this many times.
    pub races: u32,
    /// The competitor's secret (`ocf_es_…`) and owner token.
    pub racer: Option<(String, String)>,
    /// Saves the competitor made.
    pub raced: u32,
    /// Config saves forwarded for the CLI.
    pub saves: u32,
}

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    pub rules: Arc<Mutex<Rules>>,
    upstream: String,
    http: reqwest::Client,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            url: format!("http://{}", listener.local_addr().unwrap()),
            rules: Arc::default(),
            upstream: upstream.to_owned(),
            http: reqwest::Client::new(),
        };
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        proxy
    }

    pub fn set(&self, change: impl FnOnce(&mut Rules)) {
        change(&mut self.rules.lock().unwrap());
    }

    pub fn get<T>(&self, read: impl FnOnce(&Rules) -> T) -> T {
        read(&self.rules.lock().unwrap())
    }
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let is_save = parts.method == "PUT" && path.ends_with("/config");
    if is_save {
        race(&p, &body).await;
        p.set(|r| r.saves += 1);
    }
    let mut rb = p
        .http
        .request(parts.method.clone(), format!("{}{path}", p.upstream));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            rb = rb.header(name, value);
        }
    }
    let res = rb.body(body.to_vec()).send().await.unwrap();
    let status = res.status();
    let content_type = res.headers().get("content-type").cloned();
    let mut bytes = res.bytes().await.unwrap().to_vec();
    if status.is_success() && parts.method == "GET" {
        if let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) {
            if rewrite(&p, parts.uri.path(), &mut value) {
                bytes = value.to_string().into_bytes();
            }
        }
    }
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = StatusCode::from_u16(status.as_u16()).unwrap();
    if let Some(ct) = content_type {
        out.headers_mut().insert(
            "content-type",
            HeaderValue::from_bytes(ct.as_bytes()).unwrap(),
        );
    }
    out
}

/// Saves a real competing version (the CLI's version number) first.
async fn race(p: &Proxy, body: &[u8]) {
    let racer = p.get(|r| (r.races > 0).then(|| r.racer.clone()).flatten());
    let Some((es, token)) = racer else { return };
    let envelope = &serde_json::from_slice::<Value>(body).unwrap()["config"];
    let agent = AgentId::parse(envelope["agent_id"].as_str().unwrap()).unwrap();
    let version = envelope["version"].as_u64().unwrap();
    let n = p.get(|r| r.raced) + 1;
    let doc = json!({"schema": 1, "env": {"RACER": n.to_string()}, "openclaw": {}});
    let es = EncryptionSecret::parse(&es).unwrap();
    let sealed = super::seal(&es, &agent, version, &doc);
    let res = p
        .http
        .put(format!("{}/api/agents/{agent}/config", p.upstream))
        .bearer_auth(token)
        .json(&json!({ "config": sealed }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the competing save");
    p.set(|r| {
        r.races -= 1;
        r.raced += 1;
    });
}

fn rewrite(p: &Proxy, path: &str, value: &mut Value) -> bool {
    let rules = p.rules.lock().unwrap();
    let mut changed = false;
    if path == "/api/me/master-key" {
        if let Some(it) = rules.kdf_iterations {
            value["kdf"]["iterations"] = json!(it);
            changed = true;
        }
    }
    let is_agent = path.starts_with("/api/agents/") && path.matches('/').count() == 3;
    if is_agent {
        if let Some(env) = &rules.envelope {
            value["config"] = env.clone();
            value["config_version"] = env["version"].clone();
            changed = true;
        }
        if let Some(v) = rules.config_version {
            value["config_version"] = json!(v);
            changed = true;
        }
        if rules.flip_ciphertext {
            let ct = value["config"]["ct"].as_str().unwrap().to_owned();
            let flipped = if ct.starts_with('A') {
                ct.replacen('A', "B", 1)
            } else {
                format!("A{}", &ct[1..])
            };
            value["config"]["ct"] = json!(flipped);
            changed = true;
        }
    }
    changed
}
