//! The harness: a real server per test (its own temp data dir, SQLite file or fresh
//! PostgreSQL database, and a [`ManualClock`] started at the real time), and small
//! helpers to drive it over HTTP and read answers.

pub mod db;
pub mod fixtures;
pub mod pg;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openclaw_fleet::access::AppState;
use openclaw_fleet::clock::{Clock, ManualClock};
use openclaw_fleet::{Server, Settings};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub use pg::{skip_postgres, PgDatabase};

/// Held by the tests that time one event under a flood of thousands (`events_flood`,
/// `events_watch`): they check a one-second bound, so they take turns instead of each
/// flooding the two cores while the other measures (CI runs the suite two tests at a time).
static FLOODS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until no other flood test runs; the flood test holds the guard to its end.
pub async fn flood_alone() -> tokio::sync::MutexGuard<'static, ()> {
    FLOODS.lock().await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PASSWORD: &str = "correct horse battery staple";
/// No `Authorization` header.
pub const ANON: &str = "";

/// A logged-in owner.
pub struct Owner {
    pub id: String,
    pub email: String,
    pub token: String,
}

/// An agent as created: its id and the secret shown once.
pub struct Agent {
    pub id: String,
    pub secret: String,
}

/// An answer: status, headers, raw text and the JSON body (`Null` when not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    /// Asserts the status and returns the answer.
    #[track_caller]
    pub fn ok(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {}",
            self.text
        );
        self
    }

    /// Asserts a SPEC §0 error body with this status and code.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {}",
            self.text
        );
        assert_eq!(
            self.json["error"], code,
            "unexpected error body: {}",
            self.text
        );
        assert!(
            self.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without message: {}",
            self.text
        );
        let ct = self.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("application/json"), "content-type {ct}");
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The `Retry-After` header, which must be a positive number of seconds.
    #[track_caller]
    pub fn retry_after(&self) -> u64 {
        let v = self.header("retry-after").expect("Retry-After header");
        let secs: u64 = v.parse().expect("Retry-After is seconds");
        assert!(secs > 0);
        secs
    }
}

pub struct TestApp {
    pub base: String,
    pub clock: ManualClock,
    pub client: reqwest::Client,
    pub state: AppState,
    settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    // Last: dropped after the server was told to stop. Shared with replicas.
    _storage: Arc<(tempfile::TempDir, Option<PgDatabase>)>,
}

pub fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server whose settings `adjust` may change.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await),
        };
        let mut settings = Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.path().join("data"),
            database_url: pg.as_ref().map(|p| p.url.clone()),
            ..Settings::default()
        };
        adjust(&mut settings);
        let clock = ManualClock::new(wall_clock());
        Self::start(settings, clock, Arc::new((data_dir, pg))).await
    }

    /// A second server on the same database, key and clock: another replica.
    /// The PostgreSQL database's URL (`None` on SQLite).
    pub fn pg_url(&self) -> Option<String> {
        self._storage.1.as_ref().map(|pg| pg.url.clone())
    }

    pub async fn replica(&self) -> Self {
        Self::start(
            self.settings.clone(),
            self.clock.clone(),
            self._storage.clone(),
        )
        .await
    }

    /// Replicas A and B: on PostgreSQL two servers on one database, returned once both
    /// listen for the other's notices; on SQLite (no notices between processes) B is A,
    /// so `None`.
    pub async fn spawn_pair(backend: Backend) -> (Self, Option<Self>) {
        let a = Self::spawn(backend).await;
        if backend == Backend::Sqlite {
            return (a, None);
        }
        let b = a.replica().await;
        let start = std::time::Instant::now();
        while !(a.state.replicas_live() && b.state.replicas_live()) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "listeners not up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        (a, Some(b))
    }

    async fn start(
        settings: Settings,
        clock: ManualClock,
        storage: Arc<(tempfile::TempDir, Option<PgDatabase>)>,
    ) -> Self {
        let server = Server::build(settings.clone(), Some(Arc::new(clock.clone())))
            .await
            .expect("server starts");
        let addr = server.local_addr();
        let state = server.state();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = server
                .run(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            clock,
            client: reqwest::Client::new(),
            state,
            settings,
            shutdown: Some(tx),
            task,
            _storage: storage,
        }
    }

    /// Stops the server the way SIGTERM does; returns once `Server::run` has returned
    /// (drained and flushed), with how long that took.
    pub async fn stop(&mut self) -> std::time::Duration {
        let started = std::time::Instant::now();
        let Some(tx) = self.shutdown.take() else {
            return std::time::Duration::ZERO;
        };
        let _ = tx.send(());
        (&mut self.task)
            .await
            .expect("the server task ends cleanly");
        started.elapsed()
    }

    /// Stops this server and starts a new one on the same database, key and clock.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        Self::start(
            self.settings.clone(),
            self.clock.clone(),
            self._storage.clone(),
        )
        .await
    }

    /// Starts a new server on the same database, key and clock without stopping this one
    /// the way SIGTERM does: its task is aborted and nothing it holds in memory is flushed
    /// (what a crash leaves is what the database had committed).
    pub async fn crash_restart(mut self) -> Self {
        self.shutdown.take();
        self.task.abort();
        let _ = (&mut self.task).await;
        Self::start(
            self.settings.clone(),
            self.clock.clone(),
            self._storage.clone(),
        )
        .await
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's own origin, as a browser on its pages sends it.
    pub fn origin(&self) -> String {
        self.base.clone()
    }

    /// A client whose connections come from another loopback address (rate limits
    /// are per client address).
    pub fn client_from(&self, last_octet: u8) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
            .build()
            .expect("client")
    }

    pub async fn send(&self, rb: RequestBuilder) -> Resp {
        let res = rb.send().await.expect("request reaches the server");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn build(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        let rb = self.client.request(method, self.url(path));
        if token.is_empty() {
            rb
        } else {
            rb.bearer_auth(token)
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.build(Method::GET, path, token)).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.build(Method::POST, path, token).json(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.build(Method::PUT, path, token).json(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.build(Method::PATCH, path, token).json(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(self.build(Method::DELETE, path, token)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.post(
            "/api/auth/login",
            ANON,
            &json!({"email": email, "password": password}),
        )
        .await
    }

    async fn logged_in(&self, email: &str) -> Owner {
        let r = self.login(email, PASSWORD).await.ok(200);
        Owner {
            id: r.json["user"]["id"].as_str().expect("user id").into(),
            email: email.into(),
            token: r.json["token"].as_str().expect("token").into(),
        }
    }

    /// Registers the first account over HTTP and logs it in.
    pub async fn first_owner(&self) -> Owner {
        let email = "owner@example.com";
        self.post(
            "/api/auth/register",
            ANON,
            &json!({"email": email, "password": PASSWORD}),
        )
        .await
        .ok(201);
        self.logged_in(email).await
    }

    /// Another account, made the way the operator CLI makes one (registration may be
    /// closed), then logged in over HTTP.
    pub async fn other_owner(&self, email: &str) -> Owner {
        self.state
            .public()
            .register(email, PASSWORD, true)
            .await
            .expect("operator registration");
        self.logged_in(email).await
    }

    pub async fn create_agent(&self, owner: &Owner, body: Value) -> Agent {
        let r = self.post("/api/agents", &owner.token, &body).await.ok(201);
        Agent {
            id: r.json["agent"]["id"].as_str().expect("agent id").into(),
            secret: r.json["agent_secret"].as_str().expect("secret").into(),
        }
    }

    pub async fn agent(&self, owner: &Owner, name: &str) -> Agent {
        self.create_agent(owner, json!({ "name": name })).await
    }

    /// A new fleet of `owner`'s: its id.
    pub async fn create_fleet(&self, owner: &Owner, name: &str) -> String {
        let body = json!({ "name": name });
        let r = self.post("/api/fleets", &owner.token, &body).await.ok(201);
        r.json["id"].as_str().expect("fleet id").into()
    }

    pub async fn agent_detail(&self, owner: &Owner, id: &str) -> Value {
        self.get(&format!("/api/agents/{id}"), &owner.token)
            .await
            .ok(200)
            .json
    }

    pub async fn handshake(&self, body: &Value) -> Resp {
        self.post("/api/agents/handshake", ANON, body).await
    }

    /// A handshake signed at the clock's current time.
    pub async fn handshake_now(&self, agent: &Agent) -> Resp {
        self.handshake(&fixtures::signed(&agent.id, &agent.secret, self.now()))
            .await
    }

    /// A fresh agent token. Advances the clock by a second first, so two calls in a row
    /// sign different timestamps (a signature is single-use).
    /// Rotates the agent's secret as its owner; the new secret, shown once.
    pub async fn rotate_secret(&self, owner: &Owner, agent: &Agent) -> String {
        let r = self
            .post(
                &format!("/api/agents/{}/rotate-secret", agent.id),
                &owner.token,
                &json!({}),
            )
            .await
            .ok(200);
        r.json["agent_secret"]
            .as_str()
            .expect("the new secret")
            .to_string()
    }

    pub async fn agent_token(&self, agent: &Agent) -> String {
        self.clock.advance(1);
        let r = self.handshake_now(agent).await.ok(200);
        r.json["token"].as_str().expect("token").into()
    }

    pub async fn heartbeat(&self, token: &str, body: &Value) -> Resp {
        self.post("/api/heartbeat", token, body).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}
