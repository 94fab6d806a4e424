//! Test harness: the real fleet server on its own thread and runtime (so
//! that stopping it is a real outage: every socket closes), an owner driving
//! it over HTTP, and agent hosts that run the real agent binary against a
//! temporary OpenClaw state directory.

#![allow(dead_code)]

pub mod hostile;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openclaw_fleet::clock::ManualClock;
use openclaw_fleet::{Server, Settings};
use openclaw_fleet_protocol::{AgentId, EncryptionSecret, Envelope};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_openclaw-fleet-agent");
pub const PASSWORD: &str = "correct horse battery staple";

pub fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

/// Polls `check` every 50 ms until it yields a value or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real server, on a thread with its own runtime.
pub struct FleetServer {
    pub addr: SocketAddr,
    scheme: &'static str,
    pub data_dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FleetServer {
    /// Starts on `addr` (port 0 for any) with `data_dir`; `clock_offset`
    /// shifts the server's clock away from the host's.
    pub fn start(data_dir: &Path, addr: SocketAddr, clock_offset: Option<i64>) -> Self {
        let settings = Settings {
            listen: addr,
            data_dir: data_dir.to_path_buf(),
            ..Settings::default()
        };
        Self::start_with(settings, clock_offset)
    }

    /// Starts with these settings (e.g. built-in TLS).
    pub fn start_with(settings: Settings, clock_offset: Option<i64>) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let data_dir = settings.data_dir.clone();
        let scheme = if settings.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let clock = clock_offset.map(|o| {
                    Arc::new(ManualClock::new(wall_clock() + o))
                        as openclaw_fleet::clock::SharedClock
                });
                let server = bind_retrying(settings, clock).await;
                addr_tx.send(server.local_addr()).expect("report address");
                tokio::select! {
                    r = server.run(std::future::pending()) => r.expect("server runs"),
                    _ = stop_rx => {}
                }
            });
            // Dropping the runtime drops every connection task: a hard stop.
            rt.shutdown_timeout(Duration::from_secs(1));
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server started");
        Self {
            addr,
            scheme,
            data_dir,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread");
        }
    }
}

/// Binding the port a stopped server just released can race the kernel.
async fn bind_retrying(
    settings: Settings,
    clock: Option<openclaw_fleet::clock::SharedClock>,
) -> Server {
    let mut tries = 0;
    loop {
        match Server::build(settings.clone(), clock.clone()).await {
            Ok(s) => return s,
            Err(e) if tries < 50 => {
                tries += 1;
                eprintln!("server bind retry: {e:#}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("server does not start: {e:#}"),
        }
    }
}

impl Drop for FleetServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The first account of a fresh server, logged in.
pub struct Owner {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Owner {
    pub async fn register(base: &str) -> Self {
        Self::register_with(base, reqwest::Client::new()).await
    }

    /// Registers through `http` (e.g. a client that trusts a test CA).
    pub async fn register_with(base: &str, http: reqwest::Client) -> Self {
        let creds = json!({"email": "owner@example.com", "password": PASSWORD});
        let r = http
            .post(format!("{base}/api/auth/register"))
            .json(&creds)
            .send()
            .await
            .expect("register");
        assert_eq!(
            r.status(),
            201,
            "register: {}",
            r.text().await.unwrap_or_default()
        );
        let login: Value = http
            .post(format!("{base}/api/auth/login"))
            .json(&creds)
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login json");
        Self {
            base: base.to_string(),
            token: login["token"].as_str().expect("token").to_string(),
            http,
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("owner request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates an Ed25519 agent and returns its id and enrollment token.
    pub async fn create_ed25519_agent(&self, name: &str) -> (String, String) {
        let body = json!({"name": name, "policy_profile": "dev", "identity": "ed25519"});
        let (status, body) = self
            .call(reqwest::Method::POST, "/api/agents", Some(body))
            .await;
        assert_eq!(status, 201, "create agent: {body}");
        assert!(body.get("agent_secret").is_none(), "{body}");
        (
            body["agent"]["id"].as_str().expect("id").to_string(),
            body["enrollment_token"]
                .as_str()
                .expect("token")
                .to_string(),
        )
    }

    /// Issues an enrollment token (switching an HMAC agent to Ed25519).
    pub async fn enrollment_token(&self, id: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/agents/{id}/enrollment-token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "enrollment token: {body}");
        body["enrollment_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// Creates an agent and returns its id and secret (shown this once).
    pub async fn create_agent(&self, name: &str, policy: &str) -> (String, String) {
        let body = json!({"name": name, "policy_profile": policy});
        let (status, body) = self
            .call(reqwest::Method::POST, "/api/agents", Some(body))
            .await;
        assert_eq!(status, 201, "create agent: {body}");
        (
            body["agent"]["id"].as_str().expect("id").to_string(),
            body["agent_secret"].as_str().expect("secret").to_string(),
        )
    }

    pub async fn agent(&self, id: &str) -> Value {
        let (status, body) = self
            .call(reqwest::Method::GET, &format!("/api/agents/{id}"), None)
            .await;
        assert_eq!(status, 200, "agent detail: {body}");
        body
    }

    pub async fn save_config(&self, id: &str, envelope: Value) {
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/agents/{id}/config"),
                Some(json!({ "config": envelope })),
            )
            .await;
        assert_eq!(status, 200, "save config: {body}");
    }
}

/// One OpenClaw host: a state directory and the agent's settings.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub agent_id: AgentId,
    /// Empty for an Ed25519 agent.
    pub agent_secret: String,
    /// An Ed25519 agent's enrollment token.
    pub enrollment_token: Option<String>,
    pub encryption_secret: EncryptionSecret,
    pub url: String,
    pub gateway_url: String,
}

impl Host {
    pub fn new(url: &str, agent_id: &str, agent_secret: &str) -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            agent_id: AgentId::parse(agent_id).expect("agent id"),
            agent_secret: agent_secret.to_string(),
            enrollment_token: None,
            encryption_secret: EncryptionSecret::generate(),
            url: url.to_string(),
            // Nothing listens on port 9 of the loopback: the gateway is down.
            gateway_url: "http://127.0.0.1:9".into(),
        }
    }

    /// An Ed25519 agent's host, with its enrollment token and no secret.
    pub fn ed25519(url: &str, agent_id: &str, token: &str) -> Self {
        let mut host = Self::new(url, agent_id, "");
        host.enrollment_token = Some(token.to_string());
        host
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("openclaw")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("agent.log")
    }

    /// A config document sealed for this agent, as the dashboard seals it.
    pub fn seal(&self, version: u64, doc: &Value) -> Value {
        seal_for(&self.encryption_secret, &self.agent_id, version, doc)
    }

    /// The agent binary with this host's settings and a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("RUST_LOG", "debug")
            .env("OPENCLAW_FLEET_URL", &self.url)
            .env("OPENCLAW_FLEET_AGENT_ID", self.agent_id.to_string())
            .env(
                "OPENCLAW_FLEET_ENCRYPTION_SECRET",
                self.encryption_secret.to_encoded().as_str(),
            )
            .env("OPENCLAW_STATE_DIR", self.state_dir())
            .env("OPENCLAW_GATEWAY_URL", &self.gateway_url)
            .stdin(Stdio::null());
        if !self.agent_secret.is_empty() {
            cmd.env("OPENCLAW_FLEET_AGENT_SECRET", &self.agent_secret);
        }
        if let Some(token) = &self.enrollment_token {
            cmd.env("OPENCLAW_FLEET_ENROLLMENT_TOKEN", token);
        }
        cmd
    }

    pub fn run_once(&self) -> Output {
        self.command(&["run", "--once"])
            .output()
            .expect("agent runs")
    }

    /// Starts the daemon; its stderr goes to `log_path()`.
    pub fn spawn(&self, extra: &[&str]) -> Daemon {
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        let child = self
            .command(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("agent starts");
        Daemon(child)
    }

    pub fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.state_dir().join(name)).ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Asserts that no secret, token or config value reached the output.
    pub fn assert_no_secret_in(&self, text: &str, also: &[&str]) {
        let es = self.encryption_secret.to_encoded();
        let key = self.read(".fleet-agent-identity-key").unwrap_or_default();
        let mut needles = vec![es.as_str(), key.trim()];
        needles.extend(self.enrollment_token.as_deref());
        if !self.agent_secret.is_empty() {
            needles.push(self.agent_secret.as_str());
        }
        needles.extend_from_slice(also);
        for needle in needles.into_iter().filter(|n| !n.is_empty()) {
            assert!(!text.contains(needle), "a secret value reached the output");
        }
    }
}

pub fn seal_for(es: &EncryptionSecret, agent: &AgentId, version: u64, doc: &Value) -> Value {
    let bytes = serde_json::to_vec(doc).expect("json");
    Envelope::seal(es, agent, version, &bytes)
        .expect("seal")
        .to_json()
}

pub fn doc(api_key: &str) -> Value {
    json!({"schema": 1,
           "env": {"ANTHROPIC_API_KEY": api_key},
           "openclaw": {"agents": {"defaults": {"model": "claude"}}}})
}

/// The daemon process; killed when dropped.
pub struct Daemon(pub Child);

impl Daemon {
    pub fn is_running(&mut self) -> bool {
        self.0.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
