//! The server's own OpenAPI document, read as the list of operations to attack: method,
//! path template, who may call it (public, owner session, agent token), its JSON body
//! schema and query parameters. Path parameters are filled with real object ids by the
//! collection they follow (`/api/agents/{id}` takes an agent id); a route under a
//! collection the suite has no object for fails the suite until it is taught one.

use reqwest::Method;
use serde_json::Value;

use crate::common::TestApp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Public,
    Session,
    AgentToken,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub method: Method,
    pub path: String,
    pub auth: Auth,
    /// The resolved JSON schema of the request body, if it takes one.
    pub body: Option<Value>,
    pub query: Vec<String>,
    /// Answers a stream (server-sent events) rather than one document.
    pub stream: bool,
}

impl Operation {
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn is_write(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS)
    }

    pub fn takes_id(&self) -> bool {
        self.path.contains('{')
    }
}

/// Real ids of one owner's objects, by the collection a path names them under.
pub struct Ids {
    pub fleet: String,
    pub agent: String,
    /// A config version the agent's history holds.
    pub version: String,
    /// A session of the owner other than the one the suite uses.
    pub session: String,
    /// An alert rule.
    pub rule: String,
}

impl Ids {
    /// `path` with every `{param}` replaced by the id of the collection before it.
    #[track_caller]
    pub fn fill(&self, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        let mut out = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            if seg.starts_with('{') {
                let collection = if i > 0 { segments[i - 1] } else { "" };
                let id = match collection {
                    "fleets" => &self.fleet,
                    "agents" => &self.agent,
                    "history" => &self.version,
                    "sessions" => &self.session,
                    "rules" => &self.rule,
                    other => panic!(
                        "{path}: no object known for a `{seg}` under `{other}`; teach \
                         tests/security/support/openapi.rs (Ids) this collection"
                    ),
                };
                out.push(id.as_str());
            } else {
                out.push(seg);
            }
        }
        out.join("/")
    }
}

/// `#/components/schemas/X` references resolved (one level).
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn auth_of(doc: &Value, op: &Value) -> Auth {
    let security = op.get("security").unwrap_or(&doc["security"]);
    let names: Vec<&str> = security
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    if names.contains(&"agent_token") {
        Auth::AgentToken
    } else if names.contains(&"session") {
        Auth::Session
    } else {
        Auth::Public
    }
}

/// Every operation of the document served by `app`, and the document.
pub async fn operations(app: &TestApp) -> (Value, Vec<Operation>) {
    let r = app.get("/api/openapi.json", "").await.ok(200);
    let doc: Value = serde_json::from_str(&r.text).expect("the document is JSON");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if op.get("responses").is_none() {
                continue;
            }
            let body = op["requestBody"]["content"]["application/json"]
                .get("schema")
                .map(|s| resolve(&doc, s).clone());
            let query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            let stream = op["responses"]["200"]["content"]
                .as_object()
                .is_some_and(|c| c.contains_key("text/event-stream"));
            ops.push(Operation {
                method,
                path: path.clone(),
                auth: auth_of(&doc, op),
                body,
                query,
                stream,
            });
        }
    }
    assert!(ops.len() >= 20, "the document lists too few operations");
    (doc, ops)
}
