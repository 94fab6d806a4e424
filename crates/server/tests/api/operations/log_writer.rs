//! The log never holds a request: `serve` writes it from a thread of its own, so a
//! stderr that nobody drains (a full pipe, or a disk the kernel throttles) costs log lines,
//! counted, not answers. With the log written in line, the first write past the pipe's
//! buffer (64 KiB on Linux) blocked a runtime worker, and every request behind it.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::proc::command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stderr_nobody_reads_does_not_stall_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = command()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env("OPENCLAW_FLEET_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    // Held open and never read: once the pipe is full, a write to it blocks.
    let _stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut base, mut metrics) = (None, None);
    tokio::time::timeout(Duration::from_secs(60), async {
        while base.is_none() || metrics.is_none() {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server prints its addresses");
            if let Some(at) = line.find("http://") {
                let url = line[at..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/');
                if line.contains("metrics") {
                    metrics = Some(url.to_string());
                } else {
                    base = Some(url.to_string());
                }
            }
        }
    })
    .await
    .expect("the server announces its addresses within 60 s");
    let (base, metrics) = (base.unwrap(), metrics.unwrap());
    let http = reqwest::Client::new();
    // Far more log than the pipe holds: every request logs its access line and, at trace,
    // the connection's lines too.
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        for _ in 0..2000 {
            let r = http.get(format!("{base}/healthz")).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    })
    .await;
    assert!(
        answered.is_ok(),
        "requests stalled behind a log nobody reads"
    );
    let scrape = http
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape.contains("openclaw_fleet_log_lines_dropped_total"),
        "the dropped lines are not counted:\n{scrape}"
    );
    child.kill().await.unwrap();
}
