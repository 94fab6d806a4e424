//! Secrets at rest and in logs (SPEC §1, §6): the real binary runs as a subprocess with
//! every log level on; the suite's flows are driven through it; then every file of its
//! data dir (SQLite database, WAL, key file), every database row (PostgreSQL) and all
//! it printed are searched for agent secrets, tokens, the account password and the
//! config plaintext — raw, hex, base64 and base64url, text and decoded bytes.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::fixtures::{
    config_document, envelope, heartbeat, kdf, random_bytes, signed, Wrap,
};
use crate::common::{Backend, PgDatabase, PASSWORD};

both_backends!(no_secret_reaches_disk_database_or_logs);

/// A byte string to look for, and what it stands for.
struct Needle {
    what: String,
    bytes: Vec<u8>,
}

/// Every encoding of `secret` a careless implementation might write: the text and the
/// bytes its `ocf_…_` payload decodes to, raw, hex and base64 (both alphabets).
fn forms(what: &str, secret: &str) -> Vec<Needle> {
    let mut out = Vec::new();
    let mut add = |form: &str, bytes: Vec<u8>| {
        out.push(Needle {
            what: format!("{what} ({form})"),
            bytes,
        })
    };
    let mut encodings = |label: &str, raw: &[u8]| {
        add(&format!("{label} raw"), raw.to_vec());
        add(&format!("{label} hex"), hex::encode(raw).into_bytes());
        add(&format!("{label} HEX"), hex::encode_upper(raw).into_bytes());
        for (name, engine) in [
            ("base64", &STANDARD),
            ("base64 unpadded", &STANDARD_NO_PAD),
            ("base64url", &URL_SAFE),
            ("base64url unpadded", &URL_SAFE_NO_PAD),
        ] {
            add(&format!("{label} {name}"), engine.encode(raw).into_bytes());
        }
    };
    encodings("text", secret.as_bytes());
    let payload = secret.get(7..).filter(|_| secret.starts_with("ocf_"));
    if let Some(bytes) = payload.and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()) {
        encodings("payload bytes", &bytes);
    }
    out
}

/// Bytes as a string of the same length in chars, so `str::contains` (fast, in the
/// optimised standard library) can search binary data.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn found<'a>(haystack: &[u8], needles: &'a [Needle]) -> Vec<&'a str> {
    let hay = latin1(haystack);
    needles
        .iter()
        .filter(|n| hay.contains(&latin1(&n.bytes)))
        .map(|n| n.what.as_str())
        .collect()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

struct Process {
    child: Child,
    base: String,
    stdout: tokio::task::JoinHandle<Vec<u8>>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}

async fn start(data_dir: &Path, database_url: Option<&str>) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openclaw-fleet"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OPENCLAW_FLEET_") || key.starts_with("INTERNAL_ENCRYPTION_KEY") {
            cmd.env_remove(key);
        }
    }
    cmd.env("OPENCLAW_FLEET_LOG", "trace")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd.spawn().expect("the server binary starts");
    let mut err = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf).await;
        buf
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).await.unwrap_or(0) == 0 {
                return None;
            }
            seen.extend_from_slice(line.as_bytes());
            if let Some(at) = line.find("http://") {
                let rest = &line[at..];
                let end = rest[7..].find('/').map_or(rest.len(), |i| i + 7);
                return Some(rest[..end].to_string());
            }
        }
    })
    .await
    .expect("the server announces its address");
    let Some(base) = base else {
        let _ = child.wait().await;
        let err = stderr.await.unwrap_or_default();
        panic!("the server exited: {}", String::from_utf8_lossy(&err));
    };
    let stdout = tokio::spawn(async move {
        let mut rest = Vec::new();
        let _ = out.read_to_end(&mut rest).await;
        seen.extend(rest);
        seen
    });
    Process {
        child,
        base,
        stdout,
        stderr,
    }
}

impl Process {
    /// SIGTERM, as an operator stops it; returns everything it printed.
    async fn stop(mut self) -> Vec<u8> {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server stops on SIGTERM")
            .unwrap();
        assert!(exit.success(), "exit status {exit}");
        let mut logs = self.stdout.await.unwrap();
        logs.extend(self.stderr.await.unwrap());
        logs
    }
}

/// A small client for the subprocess (no in-process state to lean on).
struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value, String) {
        let mut rb = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if !token.is_empty() {
            rb = rb.bearer_auth(token);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let res = rb.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }
}

fn now() -> i64 {
    crate::common::wall_clock()
}

/// The flows of the suite, against a running server. Returns the needles (everything
/// secret it handled) and values that must be found (to prove the search works).
async fn exercise(http: &Http) -> (Vec<Needle>, Vec<String>) {
    let mut needles = Vec::new();
    let errors = std::cell::RefCell::new(String::new());
    let expect = |code: u16, got: (u16, Value, String)| {
        assert_eq!(got.0, code, "{}", got.2);
        if code >= 400 {
            errors.borrow_mut().push_str(&got.2);
        }
        got
    };
    let email = "owner@example.com";
    let creds = json!({"email": email, "password": PASSWORD});
    expect(
        201,
        http.call("POST", "/api/auth/register", "", Some(&creds))
            .await,
    );
    let wrong_password = "wrong horse battery staple";
    let wrong = json!({"email": email, "password": wrong_password});
    expect(
        401,
        http.call("POST", "/api/auth/login", "", Some(&wrong)).await,
    );
    let (_, login, _) = expect(
        200,
        http.call("POST", "/api/auth/login", "", Some(&creds)).await,
    );
    let session = login["token"].as_str().unwrap().to_string();
    let user_id = login["user"]["id"].as_str().unwrap().to_string();
    let (_, second, _) = expect(
        200,
        http.call("POST", "/api/auth/login", "", Some(&creds)).await,
    );
    let logged_out = second["token"].as_str().unwrap().to_string();
    expect(
        204,
        http.call("POST", "/api/auth/logout", &logged_out, None)
            .await,
    );

    let (_, fleet, _) = expect(
        201,
        http.call(
            "POST",
            "/api/fleets",
            &session,
            Some(&json!({"name": "prod"})),
        )
        .await,
    );
    let mut agents = Vec::new();
    let mut created_text = String::new();
    for name in ["a", "b", "c"] {
        let body = json!({"name": name, "fleet_id": fleet["id"]});
        let (_, created, text) = expect(
            201,
            http.call("POST", "/api/agents", &session, Some(&body))
                .await,
        );
        created_text.push_str(&text);
        let id = created["agent"]["id"].as_str().unwrap().to_string();
        let secret = created["agent_secret"].as_str().unwrap().to_string();
        needles.extend(forms(&format!("agent secret of {name}"), &secret));
        agents.push((id, secret));
    }
    let (a, a_secret) = agents[0].clone();
    let (b, b_secret) = agents[1].clone();
    let (c, _) = agents[2].clone();

    // Handshakes: good, replayed, integer timestamp, wrong secret, plaintext secrets.
    let hs = |body: Value| async move {
        http.call("POST", "/api/agents/handshake", "", Some(&body))
            .await
    };
    let body = signed(&a, &a_secret, now());
    let (_, ok, _) = expect(200, hs(body.clone()).await);
    let a_token = ok["token"].as_str().unwrap().to_string();
    expect(401, hs(body).await);
    let ts = now() - 1;
    let mut int_body = signed(&a, &a_secret, ts);
    int_body["timestamp"] = json!(ts);
    expect(200, hs(int_body).await);
    expect(401, hs(signed(&a, &b_secret, now())).await);
    let mut leaky = signed(&a, &a_secret, now() - 2);
    leaky["agent_secret"] = json!(a_secret);
    expect(400, hs(leaky).await);
    expect(
        400,
        hs(json!({"agent_id": a, "timestamp": now(), "signature": a_secret})).await,
    );
    expect(
        400,
        hs(json!({"agent_id": a_secret, "timestamp": now()})).await,
    );

    // Heartbeats, including ones that carry the secret where it does not belong.
    let hb = heartbeat(&a, "healthy", json!({"cpu_usage": 3, "memory_usage": 4}));
    expect(
        200,
        http.call("POST", "/api/heartbeat", &a_token, Some(&hb))
            .await,
    );
    let mut bad = hb.clone();
    bad["error"] = json!(a_secret);
    expect(
        400,
        http.call("POST", "/api/heartbeat", &a_token, Some(&bad))
            .await,
    );
    let mut bad = hb.clone();
    bad["metrics"] = json!({ a_secret.clone(): 1 });
    expect(
        400,
        http.call("POST", "/api/heartbeat", &a_token, Some(&bad))
            .await,
    );
    expect(
        401,
        http.call("POST", "/api/heartbeat", &a_secret, Some(&hb))
            .await,
    );
    let leak_login = json!({"email": email, "password": a_secret});
    expect(
        401,
        http.call("POST", "/api/auth/login", "", Some(&leak_login))
            .await,
    );
    for leak_body in [
        json!({"name": 5, "note": a_secret}),
        json!({ a_secret.clone(): "x" }),
        json!({"name": [a_secret]}),
        json!({"name": {a_secret.clone(): 1}}),
    ] {
        let r = http
            .call("POST", "/api/fleets", &session, Some(&leak_body))
            .await;
        expect(400, r);
    }
    for leak_query in [
        format!("/api/agents?fleet_id={a_secret}&status={a_secret}"),
        format!("/api/agents?page={a_secret}"),
        format!("/api/agents?{a_secret}=1"),
    ] {
        expect(400, http.call("GET", &leak_query, &session, None).await);
    }
    expect(
        404,
        http.call("GET", &format!("/api/agents/{a_secret}"), &session, None)
            .await,
    );

    // Master key, a wrapped secret, and an end-to-end encrypted config.
    let wrap = Wrap::new();
    let setup = json!({"kdf": kdf(600_000), "key_check": wrap.key_check(&user_id)});
    expect(
        200,
        http.call("PUT", "/api/me/master-key", &session, Some(&setup))
            .await,
    );
    let wrapped = json!({"wrapped_secret": wrap.wrapped(&user_id, &a)});
    expect(
        200,
        http.call(
            "PUT",
            &format!("/api/agents/{a}/wrapped-secret"),
            &session,
            Some(&wrapped),
        )
        .await,
    );
    let es = EncryptionSecret::generate();
    let marker = hex::encode(random_bytes::<20>());
    let doc = config_document(&marker);
    needles.extend(forms("config API key", &format!("sk-ant-{marker}")));
    needles.extend(forms("config document", &doc.to_string()));
    let env = envelope(&es, &a, 1, &doc);
    expect(
        200,
        http.call(
            "PUT",
            &format!("/api/agents/{a}/config"),
            &session,
            Some(&json!({"config": env})),
        )
        .await,
    );
    let (_, got, _) = expect(
        200,
        http.call("GET", &format!("/api/agents/{a}/config"), &a_token, None)
            .await,
    );
    assert_eq!(got["config"], env);

    // Rotation, a session under the new secret, a deletion.
    let (_, rotated, _) = expect(
        200,
        http.call(
            "POST",
            &format!("/api/agents/{b}/rotate-secret"),
            &session,
            None,
        )
        .await,
    );
    let b_new = rotated["agent_secret"].as_str().unwrap().to_string();
    needles.extend(forms("rotated agent secret", &b_new));
    expect(401, hs(signed(&b, &b_secret, now())).await);
    let (_, ok, _) = expect(200, hs(signed(&b, &b_new, now())).await);
    let b_token = ok["token"].as_str().unwrap().to_string();
    let hb = heartbeat(&b, "idle", json!({}));
    expect(
        200,
        http.call("POST", "/api/heartbeat", &b_token, Some(&hb))
            .await,
    );
    expect(
        204,
        http.call("DELETE", &format!("/api/agents/{c}"), &session, None)
            .await,
    );
    expect(
        200,
        http.call("GET", &format!("/api/agents/{a}"), &session, None)
            .await,
    );

    for (what, token) in [
        ("owner session", &session),
        ("ended owner session", &logged_out),
        ("agent token", &a_token),
        ("rotated agent's token", &b_token),
    ] {
        needles.extend(forms(what, token));
    }
    needles.extend(forms("account password", PASSWORD));
    needles.extend(forms("wrong password", wrong_password));

    // No error answer repeats what the request carried.
    assert_clean("the error answers", errors.borrow().as_bytes(), &needles);
    // The search finds what is there: the secrets in the creation answers.
    let hits = found(created_text.as_bytes(), &needles);
    assert!(
        hits.iter()
            .any(|h| h.starts_with("agent secret of a (text raw")),
        "{hits:?}"
    );
    assert!(
        hits.iter()
            .any(|h| h.starts_with("agent secret of c (text raw")),
        "{hits:?}"
    );
    (needles, vec![a, email.to_string()])
}

#[track_caller]
fn assert_clean(place: &str, haystack: &[u8], needles: &[Needle]) {
    let hits = found(haystack, needles);
    assert!(hits.is_empty(), "{place} holds {hits:?}");
}

async fn no_secret_reaches_disk_database_or_logs(b: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let pg = match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let server = start(&data_dir, pg.as_ref().map(|p| p.url.as_str())).await;
    let http = Http {
        base: server.base.clone(),
        client: reqwest::Client::new(),
    };
    let (needles, present) = exercise(&http).await;

    // While running (the SQLite WAL holds the recent writes), then after shutdown.
    let live = files(&data_dir);
    let logs = server.stop().await;
    let stopped = files(&data_dir);

    let log_text = String::from_utf8_lossy(&logs);
    for line in [
        "agent handshake accepted",
        "handshake refused",
        "plaintext",
        &present[0],
    ] {
        assert!(
            log_text.contains(line),
            "the logs lack {line:?}: the capture is broken"
        );
    }
    assert!(
        log_text.contains("TRACE") || log_text.contains("DEBUG"),
        "verbose logging was not on"
    );
    assert_clean("the server's output", &logs, &needles);

    let mut db_seen = false;
    for (path, bytes) in live.iter().chain(&stopped) {
        assert_clean(path, bytes, &needles);
        db_seen |= path.contains("fleet.db") && latin1(bytes).contains(&present[0]);
    }
    if let Some(pg) = &pg {
        let rows = pg.dump_rows().await;
        let dump = rows.join("\n");
        for value in &present {
            assert!(dump.contains(value.as_str()), "the dump lacks {value}");
        }
        assert!(dump.contains("ocf1."), "no sealed value in the dump");
        assert_clean("the PostgreSQL rows", dump.as_bytes(), &needles);
    } else {
        assert!(
            db_seen,
            "the SQLite file does not hold the agent: wrong file read"
        );
    }
}
