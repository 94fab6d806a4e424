//! The real server binary as a subprocess (every log level on, output captured), and a
//! small HTTP client for it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Process {
    child: Child,
    pub base: String,
    stdout: tokio::task::JoinHandle<Vec<u8>>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}

pub async fn start(data_dir: &Path, database_url: Option<&str>) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openclaw-fleet"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OPENCLAW_FLEET_") || key.starts_with("INTERNAL_ENCRYPTION_KEY") {
            cmd.env_remove(key);
        }
    }
    cmd.env("OPENCLAW_FLEET_LOG", "trace")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--alert-webhooks-allow-private",
            "--data-dir",
        ])
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
    pub async fn stop(mut self) -> Vec<u8> {
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
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

impl Http {
    pub async fn call(
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

pub fn now() -> i64 {
    crate::common::wall_clock()
}
