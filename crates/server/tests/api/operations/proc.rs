//! The real `openclaw-fleet` binary as operators run it: `serve` as a subprocess (its
//! address read from what it prints, its log captured) and one-shot commands with their
//! exit code and output. The test's own environment never leaks in.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// `openclaw-fleet` with none of the caller's server settings or keys.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openclaw-fleet"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OPENCLAW_FLEET_") || key.starts_with("INTERNAL_ENCRYPTION_KEY") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    cmd
}

/// `--data-dir DIR [--database-url URL]`.
pub fn storage(data_dir: &Path, database_url: Option<&str>) -> Vec<String> {
    let mut args = vec!["--data-dir".into(), data_dir.display().to_string()];
    if let Some(url) = database_url {
        args.extend(["--database-url".into(), url.into()]);
    }
    args
}

/// What a finished command left.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed: {}{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).expect("the command prints JSON")
    }
}

/// Runs `openclaw-fleet ARGS` to the end, with `env` added.
pub async fn run(args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = command();
    cmd.args(args).envs(env.iter().copied());
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the command ends within 120 s")
        .expect("the binary runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A running `openclaw-fleet serve`.
pub struct Serve {
    child: Child,
    pub base: String,
    /// The `--metrics-listen` address's scrape URL, when one was asked for.
    pub metrics: Option<String>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
    _stdout: tokio::task::JoinHandle<()>,
}

/// Starts `serve` on 127.0.0.1:0 with `extra` arguments and `env`.
pub async fn serve(storage: &[String], extra: &[&str], env: &[(&str, &str)]) -> Serve {
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(storage)
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the server binary starts");
    let mut err = child.stderr.take().expect("stderr");
    let stderr = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf).await;
        buf
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let wants_metrics = extra.contains(&"--metrics-listen");
    let (base, metrics) = tokio::time::timeout(Duration::from_secs(60), async {
        let (mut base, mut metrics) = (None, None);
        while let Some(line) = lines.next_line().await.expect("stdout") {
            let url = line
                .find("http://")
                .or_else(|| line.find("https://"))
                .map(|i| line[i..].split_whitespace().next().unwrap_or_default());
            match url {
                Some(u) if line.contains("metrics") => metrics = Some(u.to_string()),
                Some(u) => base = Some(u.trim_end_matches('/').to_string()),
                None => {}
            }
            match &base {
                Some(b) if metrics.is_some() || !wants_metrics => {
                    return Some((b.clone(), metrics));
                }
                _ => {}
            }
        }
        None
    })
    .await
    .expect("the server announces its address within 60 s")
    .unwrap_or_else(|| panic!("the server exited before listening"));
    let stdout = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Serve {
        child,
        base,
        metrics,
        stderr,
        _stdout: stdout,
    }
}

impl Serve {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `signal` (e.g. `-HUP`) to the server process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
    }

    /// SIGTERM; returns the log it wrote.
    pub async fn stop(mut self) -> String {
        let pid = self.child.id().expect("running").to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server stops on SIGTERM")
            .expect("wait");
        assert!(exit.success(), "exit status {exit}");
        String::from_utf8_lossy(&self.stderr.await.unwrap_or_default()).into()
    }
}
