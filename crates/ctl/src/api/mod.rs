//! The HTTP client of the owner API. Every call carries the session as a
//! bearer token (so no cookie and no CSRF `Origin` is involved), sends and
//! reads JSON, and turns an error answer into a [`CtlError`] by status. The
//! token is put into the header here and nowhere else.

pub mod types;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::error::{CtlError, Result};
use crate::local::session::Session;
use crate::server_url::ServerUrl;
pub use types::*;

const USER_AGENT: &str = concat!("openclaw-fleet-ctl/", env!("CARGO_PKG_VERSION"));
const PAGE_LIMIT: u32 = 200;

pub struct Client {
    http: reqwest::Client,
    base: ServerUrl,
    token: Option<Zeroizing<String>>,
}

/// The answer of `POST /api/auth/login`; the token is moved into a session.
pub struct LoggedIn {
    pub token: Zeroizing<String>,
    pub user: User,
}

fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client> {
    client_builder(ca_file)?
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| CtlError::Unavailable(format!("cannot set up HTTPS: {e}")))
}

/// The CLI's HTTP settings (user agent, connect timeout, extra CAs) without an
/// overall timeout, for callers that set their own (the dashboard's event stream
/// has none).
pub(crate) fn client_builder(ca_file: Option<&std::path::Path>) -> Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| CtlError::file(path, "read", e))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| CtlError::usage(format!("{} holds no PEM certificate", path.display())))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

impl Client {
    /// An anonymous client, for logging in.
    pub fn anonymous(base: ServerUrl, ca_file: Option<&std::path::Path>) -> Result<Self> {
        Ok(Self {
            http: http_client(ca_file)?,
            base,
            token: None,
        })
    }

    pub fn for_session(session: &Session) -> Result<Self> {
        Ok(Self {
            http: http_client(session.ca_file.as_deref())?,
            base: session.url.clone(),
            token: Some(Zeroizing::new(session.expose_token().to_owned())),
        })
    }

    pub fn base(&self) -> &ServerUrl {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self
            .http
            .request(method, self.base.join(path))
            .header("accept", "application/json");
        match &self.token {
            Some(t) => rb.bearer_auth(t.as_str()),
            None => rb,
        }
    }

    async fn send(&self, rb: RequestBuilder) -> Result<Option<Value>> {
        let res = rb.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "could not be reached"
            };
            CtlError::Unavailable(format!("the server at {} {what}", self.base))
        })?;
        let status = res.status();
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = res
            .bytes()
            .await
            .map_err(|_| CtlError::Unavailable(format!("the answer of {} broke off", self.base)))?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            return Ok(body);
        }
        Err(error_for(
            status,
            body.as_ref(),
            retry_after.as_deref(),
            self.token.is_some(),
        ))
    }

    async fn json<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T> {
        let body = self.send(rb).await?.unwrap_or(Value::Null);
        serde_json::from_value(body).map_err(|e| {
            CtlError::Unavailable(format!("the server's answer has an unexpected shape ({e})"))
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.json(self.request(Method::GET, path)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<LoggedIn> {
        let rb = self
            .request(Method::POST, "/api/auth/login")
            .json(&json!({ "email": email, "password": password }));
        let mut body = self.send(rb).await?.unwrap_or(Value::Null);
        let token = body["token"].as_str().map(|t| Zeroizing::new(t.to_owned()));
        let user: Option<User> = serde_json::from_value(body["user"].take()).ok();
        openclaw_fleet_protocol::zeroize_value(&mut body);
        match (token, user) {
            (Some(token), Some(user)) => Ok(LoggedIn { token, user }),
            _ => Err(CtlError::Unavailable(
                "the login answer has an unexpected shape".into(),
            )),
        }
    }

    pub async fn logout(&self) -> Result<()> {
        self.send(self.request(Method::POST, "/api/auth/logout"))
            .await
            .map(drop)
    }

    pub async fn me(&self) -> Result<User> {
        self.get("/api/me").await
    }

    pub async fn master_key(&self) -> Result<MasterKeyInfo> {
        self.get("/api/me/master-key").await
    }

    pub async fn fleets(&self) -> Result<Vec<Fleet>> {
        Ok(self.get::<FleetList>("/api/fleets").await?.fleets)
    }

    /// Every agent matching the filters, page by page.
    pub async fn agents(&self, fleet_id: Option<&str>, status: Option<&str>) -> Result<Vec<Agent>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut rb = self
                .request(Method::GET, "/api/agents")
                .query(&[("limit", PAGE_LIMIT.to_string())]);
            if let Some(c) = &cursor {
                rb = rb.query(&[("cursor", c)]);
            }
            if let Some(f) = fleet_id {
                rb = rb.query(&[("fleet_id", f)]);
            }
            if let Some(s) = status {
                rb = rb.query(&[("status", s)]);
            }
            let got: AgentPage = self.json(rb).await?;
            out.extend(got.agents);
            match got.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    pub async fn agent(&self, id: &str) -> Result<AgentDetail> {
        self.get(&format!("/api/agents/{id}")).await
    }

    /// Stores a new envelope; the server answers with the stored version.
    pub async fn put_config(&self, id: &str, envelope: &Value) -> Result<u64> {
        let rb = self
            .request(Method::PUT, &format!("/api/agents/{id}/config"))
            .json(&json!({ "config": envelope }));
        let body = self.send(rb).await?.unwrap_or(Value::Null);
        body["config_version"]
            .as_u64()
            .ok_or_else(|| CtlError::Unavailable("the save answer has no config_version".into()))
    }

    pub async fn put_wrapped_secret(
        &self,
        id: &str,
        wrapped: &Value,
        key_check: &Value,
    ) -> Result<()> {
        let rb = self
            .request(Method::PUT, &format!("/api/agents/{id}/wrapped-secret"))
            .json(&json!({ "wrapped_secret": wrapped, "key_check": key_check }));
        self.send(rb).await.map(drop)
    }
}

fn error_for(
    status: StatusCode,
    body: Option<&Value>,
    retry_after: Option<&str>,
    authed: bool,
) -> CtlError {
    let code = body
        .and_then(|b| b["error"].as_str())
        .unwrap_or("")
        .to_owned();
    let message = body
        .and_then(|b| b["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    match status.as_u16() {
        401 if authed => CtlError::SessionEnded,
        401 | 403 => CtlError::Auth(message),
        404 => CtlError::NotFound(message),
        409 if code == "version_conflict" => CtlError::VersionConflict {
            stored: body.and_then(|b| b["stored_version"].as_u64()),
        },
        409 => CtlError::Conflict(message),
        429 => CtlError::Unavailable(match retry_after {
            Some(s) => format!("{message} (try again in {s} s)"),
            None => message,
        }),
        s if s >= 500 => CtlError::Unavailable(format!("the server failed ({s}): {message}")),
        s => CtlError::Api {
            status: s,
            code,
            message,
        },
    }
}
