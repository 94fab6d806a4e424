//! Crash resilience: the real server binary, as a subprocess on a data dir (SQLite) or
//! a PostgreSQL database, under concurrent heartbeats and config saves, is killed with
//! SIGKILL mid-load (once every agent has saves acknowledged) and restarted on the same
//! data, twice. Every config save it
//! acknowledged (200) must have survived — the stored version is at least the last
//! acknowledged one and holds exactly the envelope sent for that version — the agents
//! must connect again, `openclaw-fleet audit` must pass on the data, and SQLite's
//! `PRAGMA integrity_check` must answer `ok`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::common::fixtures::{config_document, envelope, heartbeat, signed};
use crate::common::{wall_clock, Backend, PgDatabase, PASSWORD};

both_backends!(acknowledged_saves_survive_sigkill);

const AGENTS: usize = 3;
const ROUNDS: usize = 2;
/// Load runs until every agent has this many acknowledged saves (and a heartbeat)...
const MIN_SAVES: u64 = 5;
/// ...and then this much longer, so the kill lands mid-load.
const MORE_LOAD: Duration = Duration::from_millis(500);

struct Proc {
    child: Child,
    _stdout: ChildStdout,
    base: String,
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_openclaw-fleet")
}

fn storage_args(data: &Path, db: Option<&str>) -> Vec<String> {
    let mut args = vec!["--data-dir".to_string(), data.display().to_string()];
    if let Some(url) = db {
        args.extend(["--database-url".to_string(), url.to_string()]);
    }
    args
}

async fn start(data: &Path, db: Option<&str>, log: &Path) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(storage_args(data, db))
        .env_remove("INTERNAL_ENCRYPTION_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Some(i) = line.find("http://") {
                let rest = &line[i + "http://".len()..];
                let end = rest.find('/').unwrap_or(rest.len());
                return format!("http://{}", rest[..end].trim());
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server listens within 30 s");
    Proc {
        child,
        _stdout: lines.into_inner().into_inner(),
        base,
    }
}

/// What the load acknowledged for one agent: every envelope sent by version, the last
/// version answered 200, and how many heartbeats were answered 200.
#[derive(Default)]
struct Acked {
    sent: BTreeMap<u64, Value>,
    last: u64,
    heartbeats: u64,
}

struct Host {
    id: String,
    secret: String,
    es: EncryptionSecret,
}

async fn agent_token(http: &reqwest::Client, base: &str, host: &Host) -> String {
    for _ in 0..5 {
        let body = signed(&host.id, &host.secret, wall_clock());
        let r = http
            .post(format!("{base}/api/agents/handshake"))
            .json(&body)
            .send()
            .await
            .expect("handshake");
        if r.status() == 200 {
            let v: Value = r.json().await.expect("json");
            return v["token"].as_str().expect("token").to_string();
        }
        // Same second as an earlier handshake: its signature is spent; sign anew.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    panic!("the agent cannot handshake");
}

/// Acknowledged saves and heartbeats so far, for the one agent a load task drives.
#[derive(Default)]
struct Progress {
    saves: AtomicU64,
    beats: AtomicU64,
}

/// Config saves and heartbeats for one agent, until the server dies.
async fn load(
    base: String,
    owner: String,
    host: Arc<Host>,
    mut acked: Acked,
    progress: Arc<Progress>,
) -> Acked {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let token = agent_token(&http, &base, &host).await;
    let saves = {
        let (http, base, host, progress) =
            (http.clone(), base.clone(), host.clone(), progress.clone());
        let mut acked = std::mem::take(&mut acked);
        async move {
            let mut version = acked.last + 1;
            loop {
                let doc = config_document(&format!("v{version}"));
                let env = envelope(&host.es, &host.id, version, &doc);
                acked.sent.insert(version, env.clone());
                let r = http
                    .put(format!("{base}/api/agents/{}/config", host.id))
                    .bearer_auth(&owner)
                    .json(&json!({ "config": env }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        acked.last = version;
                        version += 1;
                        progress.saves.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => panic!("config save answered {}", r.status()),
                    Err(_) => break,
                }
            }
            acked
        }
    };
    let beats = async move {
        let mut n = 0;
        loop {
            let hb = heartbeat(&host.id, "healthy", json!({ "cpu_usage": 1.0 }));
            match http
                .post(format!("{base}/api/heartbeat"))
                .bearer_auth(&token)
                .json(&hb)
                .send()
                .await
            {
                Ok(r) if r.status() == 200 => {
                    n += 1;
                    progress.beats.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => panic!("heartbeat answered {}", r.status()),
                Err(_) => break,
            }
        }
        n
    };
    let (mut acked, beats) = tokio::join!(saves, beats);
    acked.heartbeats += beats;
    acked
}

fn busy_now(progress: &[Arc<Progress>]) -> bool {
    progress.iter().all(|p| {
        p.saves.load(Ordering::Relaxed) >= MIN_SAVES && p.beats.load(Ordering::Relaxed) > 0
    })
}

async fn acknowledged_saves_survive_sigkill(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let db = pg.as_ref().map(|p| p.url.as_str());
    let http = reqwest::Client::new();

    let mut server = start(&data, db, &log).await;
    let base = server.base.clone();
    let creds = json!({ "email": "ops@example.com", "password": PASSWORD });
    let r = http
        .post(format!("{base}/api/auth/register"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&creds)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner = login["token"].as_str().expect("token").to_string();
    let mut hosts = Vec::new();
    for i in 0..AGENTS {
        let made: Value = http
            .post(format!("{base}/api/agents"))
            .bearer_auth(&owner)
            .json(&json!({ "name": format!("host-{i}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        hosts.push(Arc::new(Host {
            id: made["agent"]["id"].as_str().expect("id").into(),
            secret: made["agent_secret"].as_str().expect("secret").into(),
            es: EncryptionSecret::generate(),
        }));
    }
    let mut acked: Vec<Acked> = (0..AGENTS).map(|_| Acked::default()).collect();

    for round in 0..ROUNDS {
        let progress: Vec<Arc<Progress>> = (0..AGENTS).map(|_| Arc::default()).collect();
        let tasks: Vec<_> = hosts
            .iter()
            .zip(std::mem::take(&mut acked))
            .zip(&progress)
            .map(|((h, a), p)| {
                tokio::spawn(load(
                    server.base.clone(),
                    owner.clone(),
                    h.clone(),
                    a,
                    p.clone(),
                ))
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !busy_now(&progress) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: the load made no progress in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(MORE_LOAD).await;
        server.child.start_kill().expect("SIGKILL");
        server.child.wait().await.expect("killed");
        for t in tasks {
            acked.push(t.await.expect("load task"));
        }
        assert!(
            acked.iter().all(|a| a.last > 0 && a.heartbeats > 0),
            "round {round}: the load made no progress"
        );

        server = start(&data, db, &log).await;
        let base = server.base.clone();
        for (host, a) in hosts.iter().zip(acked.iter_mut()) {
            let detail: Value = http
                .get(format!("{base}/api/agents/{}", host.id))
                .bearer_auth(&owner)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let stored = detail["config_version"].as_u64().expect("config_version");
            assert!(
                stored >= a.last,
                "round {round}: acknowledged version {} lost (stored {stored})",
                a.last
            );
            assert_eq!(
                detail["config"], a.sent[&stored],
                "round {round}: stored envelope is not the one sent as version {stored}"
            );
            assert!(detail["last_seen"].is_i64(), "heartbeats lost");
            // The next round saves on from what was stored.
            a.last = stored;
        }
    }
    // The agents connect to the restarted server.
    for host in &hosts {
        let token = agent_token(&http, &server.base, host).await;
        let hb = heartbeat(&host.id, "idle", json!({}));
        let r = http
            .post(format!("{}/api/heartbeat", server.base))
            .bearer_auth(&token)
            .json(&hb)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    server.child.start_kill().expect("SIGKILL");
    server.child.wait().await.expect("killed");

    let audit = Command::new(bin())
        .arg("audit")
        .args(storage_args(&data, db))
        .output()
        .await
        .expect("audit runs");
    assert!(
        audit.status.success(),
        "audit failed: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    if db.is_none() {
        integrity_check(&data.join("fleet.db")).await;
    }
    let log = std::fs::read_to_string(&log).expect("log");
    for host in &hosts {
        assert!(
            !log.contains(&host.secret),
            "the server log holds an agent secret"
        );
    }
    assert!(
        !log.contains(&owner),
        "the server log holds a session token"
    );
}

async fn integrity_check(file: &Path) {
    let url = format!("sqlite://{}", file.display());
    let mut conn = SqliteConnectOptions::from_str(&url)
        .expect("url")
        .connect()
        .await
        .expect("open the database");
    let result: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .expect("integrity_check");
    assert_eq!(result, vec!["ok".to_string()]);
    let broken: Vec<String> = sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .expect("foreign_key_check");
    assert!(broken.is_empty(), "foreign keys broken in {broken:?}");
}
