//! The harness: the real fleet server (library, own thread and runtime) on
//! 127.0.0.1:0 with a temporary SQLite file or a fresh PostgreSQL database;
//! an owner set up over HTTP with the protocol crate exactly as the dashboard
//! does it (master key from a passphrase, wrapped encryption secrets, sealed
//! envelopes); the real `openclaw-fleet-ctl` binary run as a process with its
//! own config directory; and the real `openclaw-fleet-agent --once`.

#![allow(dead_code)]

pub mod pg;
pub mod proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use openclaw_fleet::{Server, Settings};
use openclaw_fleet_protocol::{
    AgentId, EncryptionSecret, Envelope, Kdf, MasterKey, UserId, WrapKey,
};
use serde_json::{json, Value};

pub const CTL: &str = env!("CARGO_BIN_EXE_openclaw-fleet-ctl");
pub const PASSWORD: &str = "correct horse battery staple";
pub const PASSPHRASE: &str = "lantern quiver saffron delta";
pub const EMAIL: &str = "owner@example.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `mod sqlite` and `mod postgres`, one test per name in each.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::common::pg::skip_postgres() {
                        return;
                    }
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )+
        }
    };
}
pub(crate) use both_backends;

/// The real server on its own thread; stopped when dropped.
pub struct FleetServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _data: tempfile::TempDir,
    _pg: Option<pg::PgDatabase>,
}

impl FleetServer {
    pub fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {})
    }

    pub fn start_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let pg = (backend == Backend::Postgres).then(pg::PgDatabase::create);
        let settings = Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data.path().join("data"),
            database_url: pg.as_ref().map(|p| p.url.clone()),
            ..Settings::default()
        };
        let mut settings = settings;
        adjust(&mut settings);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let server = Server::build(settings, None).await.expect("server starts");
                addr_tx.send(server.local_addr()).expect("report address");
                tokio::select! {
                    r = server.run(std::future::pending()) => r.expect("server runs"),
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server started");
        Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
            _data: data,
            _pg: pg,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving: every later call fails to connect.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FleetServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An owner driving the API as the dashboard would, with the protocol crate.
pub struct Owner {
    pub base: String,
    pub token: String,
    pub user: UserId,
    pub wrap: Option<WrapKey>,
    key_check: Value,
    http: reqwest::Client,
}

impl Owner {
    /// Registers the first account (or another when registration is open) and logs in.
    pub async fn register(base: &str, email: &str) -> Self {
        let http = reqwest::Client::new();
        let creds = json!({"email": email, "password": PASSWORD});
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
            user: UserId::parse(login["user"]["id"].as_str().expect("user id")).unwrap(),
            wrap: None,
            key_check: Value::Null,
            http,
        }
    }

    /// The same account with another session token.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            base: self.base.clone(),
            token: token.to_owned(),
            user: self.user,
            wrap: None,
            key_check: self.key_check.clone(),
            http: self.http.clone(),
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

    /// Sets up the master key from `passphrase` (real PBKDF2 at the minimum count).
    pub async fn set_master_key(&mut self, passphrase: &str) {
        let (kdf, wrap) = derived(passphrase);
        let key_check = wrap.make_key_check(&self.user).to_json();
        let body = json!({"kdf": kdf.to_json(), "key_check": key_check});
        let (status, answer) = self
            .call(reqwest::Method::PUT, "/api/me/master-key", Some(body))
            .await;
        assert_eq!(status, 200, "master key: {answer}");
        self.wrap = Some(wrap);
        self.key_check = key_check;
    }

    pub async fn create_fleet(&self, name: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/fleets",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "create fleet: {body}");
        body["id"].as_str().expect("fleet id").to_string()
    }

    /// Creates an agent; returns its id and AGENT_SECRET.
    pub async fn create_agent(&self, name: &str, fleet_id: Option<&str>) -> (AgentId, String) {
        let body = json!({"name": name, "fleet_id": fleet_id});
        let (status, body) = self
            .call(reqwest::Method::POST, "/api/agents", Some(body))
            .await;
        assert_eq!(status, 201, "create agent: {body}");
        (
            AgentId::parse(body["agent"]["id"].as_str().expect("id")).unwrap(),
            body["agent_secret"].as_str().expect("secret").to_string(),
        )
    }

    /// Makes, wraps and stores an ENCRYPTION_SECRET, as the dashboard's set-up does.
    pub async fn give_secret(&self, agent: &AgentId) -> EncryptionSecret {
        let wrap = self.wrap.as_ref().expect("master key set");
        let es = EncryptionSecret::generate();
        let body = json!({
            "wrapped_secret": wrap.wrap_secret(&self.user, agent, &es).to_json(),
            "key_check": self.key_check,
        });
        let (status, answer) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/agents/{agent}/wrapped-secret"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "wrapped secret: {answer}");
        es
    }

    /// Seals and stores `doc` as `version`, as the dashboard's editor does.
    pub async fn save(
        &self,
        agent: &AgentId,
        es: &EncryptionSecret,
        version: u64,
        doc: &Value,
    ) -> (u16, Value) {
        let envelope = seal(es, agent, version, doc);
        self.call(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent}/config"),
            Some(json!({ "config": envelope })),
        )
        .await
    }

    pub async fn agent(&self, id: &AgentId) -> Value {
        let (status, body) = self
            .call(reqwest::Method::GET, &format!("/api/agents/{id}"), None)
            .await;
        assert_eq!(status, 200, "agent: {body}");
        body
    }

    /// The stored config of `id`, decrypted with `es`.
    pub async fn stored_doc(&self, id: &AgentId, es: &EncryptionSecret) -> (u64, Value) {
        let detail = self.agent(id).await;
        let envelope = Envelope::parse(&detail["config"]).expect("an envelope is stored");
        let plain = envelope.open(es, id).expect("opens");
        (envelope.version, serde_json::from_slice(&plain).unwrap())
    }
}

/// A server with one owner (master key set), logged in through `via` (the
/// server itself, or a proxy in front of it), and one agent `web-1` with an
/// encryption secret.
pub struct Setup {
    pub server: FleetServer,
    pub owner: Owner,
    pub ctl: Ctl,
    pub id: AgentId,
    pub es: EncryptionSecret,
    pub mk: String,
}

impl Setup {
    pub async fn new(backend: Backend) -> Self {
        let server = FleetServer::start(backend);
        let mut owner = Owner::register(&server.url(), EMAIL).await;
        owner.set_master_key(PASSPHRASE).await;
        let (id, _) = owner.create_agent("web-1", None).await;
        let es = owner.give_secret(&id).await;
        let ctl = Ctl::new();
        let mk = ctl.passphrase_file();
        Self {
            server,
            owner,
            ctl,
            id,
            es,
            mk,
        }
    }

    /// `config get web-1` with the right passphrase file.
    pub async fn get(&self) -> Out {
        self.ctl
            .run(
                &["config", "get", "web-1", "--master-key-file", &self.mk],
                None,
            )
            .await
    }

    /// `config set web-1 --env NAME=value`.
    pub async fn set(&self, assignment: &str) -> Out {
        self.ctl
            .run(
                &[
                    "--json",
                    "config",
                    "set",
                    "web-1",
                    "--env",
                    assignment,
                    "--master-key-file",
                    &self.mk,
                ],
                None,
            )
            .await
    }
}

/// The KDF parameters and wrap key for a passphrase: derived once per test
/// process (PBKDF2 at 600000 rounds is slow by design) and reused.
fn derived(passphrase: &str) -> (Kdf, WrapKey) {
    static CACHE: std::sync::Mutex<Vec<(String, Kdf, [u8; 32])>> =
        std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    if let Some((_, kdf, bytes)) = cache.iter().find(|(p, ..)| p == passphrase) {
        return (kdf.clone(), WrapKey::from_bytes(*bytes));
    }
    let kdf = Kdf::generate();
    let wrap = WrapKey::from_master(&MasterKey::derive(passphrase, &kdf).unwrap());
    cache.push((passphrase.to_owned(), kdf.clone(), *wrap.expose_bytes()));
    (kdf, wrap)
}

pub fn seal(es: &EncryptionSecret, agent: &AgentId, version: u64, doc: &Value) -> Value {
    let bytes = serde_json::to_vec(doc).unwrap();
    Envelope::seal(es, agent, version, &bytes)
        .unwrap()
        .to_json()
}

/// What one CLI run printed and returned.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "exit {}: {}{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}: {}{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The CLI binary with a private config directory and a clean environment.
pub struct Ctl {
    pub home: tempfile::TempDir,
}

impl Default for Ctl {
    fn default() -> Self {
        Self::new()
    }
}

impl Ctl {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home.path().join("config")
    }

    /// A file (mode 0600) in the home directory.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.home.path().join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    pub fn passphrase_file(&self) -> String {
        self.file("master.key", &format!("{PASSPHRASE}\n"))
            .display()
            .to_string()
    }

    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = Command::new(CTL);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("OPENCLAW_FLEET_CTL_CONFIG", self.config_dir())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = stdin.map(str::to_owned);
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("ctl starts");
            if let Some(text) = input {
                use std::io::Write;
                let mut pipe = child.stdin.take().expect("stdin");
                pipe.write_all(text.as_bytes()).expect("write stdin");
            }
            child.wait_with_output().expect("ctl runs")
        })
        .await
        .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn login(&self, url: &str) -> Out {
        let pw = self.file("password", PASSWORD);
        self.run(
            &[
                "login",
                "--url",
                url,
                "--email",
                EMAIL,
                "--password-file",
                pw.to_str().unwrap(),
            ],
            None,
        )
        .await
    }
}

/// The `openclaw-fleet-agent` binary: `OPENCLAW_FLEET_AGENT_BIN`, the one
/// beside this test's target directory, or built once with cargo.
pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("OPENCLAW_FLEET_AGENT_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test exe");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
        let bin = profile_dir.join("openclaw-fleet-agent");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let built = Command::new(cargo)
            .args([
                "build",
                "-p",
                "openclaw-fleet-agent",
                "--bin",
                "openclaw-fleet-agent",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success() || bin.exists(), "cannot build the agent");
        bin
    })
    .clone()
}

/// One OpenClaw host running the real agent.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub id: AgentId,
    pub agent_secret: String,
    pub secret_file: PathBuf,
}

impl Host {
    pub fn new(url: &str, id: &AgentId, agent_secret: &str, secret_file: PathBuf) -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            url: url.to_owned(),
            id: *id,
            agent_secret: agent_secret.to_owned(),
            secret_file,
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("openclaw")
    }

    /// `openclaw-fleet-agent run --once`; returns its combined output.
    pub async fn run_once(&self) -> String {
        let mut cmd = Command::new(agent_binary());
        cmd.args(["run", "--once"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("OPENCLAW_FLEET_URL", &self.url)
            .env("OPENCLAW_FLEET_AGENT_ID", self.id.to_string())
            .env("OPENCLAW_FLEET_AGENT_SECRET", &self.agent_secret)
            .env("OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE", &self.secret_file)
            .env("OPENCLAW_STATE_DIR", self.state_dir())
            .env("OPENCLAW_GATEWAY_URL", "http://127.0.0.1:9")
            .stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("agent runs"))
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "agent --once failed: {text}");
        text
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.state_dir().join(name)).unwrap_or_default()
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
