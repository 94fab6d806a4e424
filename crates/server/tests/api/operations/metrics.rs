//! `/metrics` and the access log, on the real binary (the figures are process-wide):
//! the scrape token is required on the main address (absent, wrong or of another
//! length: 401; not configured: 404), the metrics-only address needs none and serves
//! nothing else, and a handshake and heartbeats move the counters by exactly what was
//! sent. The access log names route templates, never ids, query strings or tokens.

use serde_json::json;

use super::fleet::Client;
use super::proc::{args, run, serve, storage};
use crate::common::fixtures::{config_document, envelope};
use crate::common::{Backend, PgDatabase};

both_backends!(scrape_needs_the_token_and_figures_move);

const TOKEN: &str = "scrape-token-0123456789abcdef";

/// The value of one sample line (`name{labels} value`), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits (bounded: 10 s) until `read` gives `want`.
async fn until<F, Fut>(mut read: F, want: f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = read().await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stuck at {got}, expected {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn scrape(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut rb = client.get(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let res = rb.send().await.expect("scrape");
    (res.status().as_u16(), res.text().await.expect("body"))
}

async fn scrape_needs_the_token_and_figures_move(b: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let pg = match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let store = storage(
        &tmp.path().join("data"),
        pg.as_ref().map(|p| p.url.as_str()),
    );
    let server = serve(
        &store,
        &["--metrics-listen", "127.0.0.1:0"],
        &[("OPENCLAW_FLEET_METRICS_TOKEN", TOKEN)],
    )
    .await;
    let http = reqwest::Client::new();
    let main = server.url("/metrics");
    for wrong in [
        None,
        Some(""),
        Some("scrape-token-0123456789abcdeX"),
        Some("short"),
        Some(&format!("{TOKEN}0")[..]),
    ] {
        let (status, body) = scrape(&http, &main, wrong).await;
        assert_eq!(status, 401, "token {wrong:?}: {body}");
        assert!(
            !body.contains("openclaw_fleet_"),
            "figures leaked without the token"
        );
    }
    let (status, before) = scrape(&http, &main, Some(TOKEN)).await;
    assert_eq!(status, 200, "{before}");

    let fleet = Client::new(&server.base);
    let owner = fleet.owner("ops@example.com", true).await;
    let host = fleet.host(&owner, "web-1").await;
    let token = fleet.agent_token(&host).await;
    for _ in 0..3 {
        assert_eq!(fleet.heartbeat(&host, &token).await, 200);
    }
    let forged = super::fleet::Host {
        id: host.id.clone(),
        secret: openclaw_fleet_protocol::AgentSecret::generate()
            .expose_secret()
            .to_string(),
        es: openclaw_fleet_protocol::EncryptionSecret::generate(),
    };
    assert_eq!(fleet.handshake(&forged).await.0, 401);
    let (status, body) = fleet
        .call(
            "GET",
            &format!("/api/agents/{}/config?after_version=0&wait=0", host.id),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let metrics_url = server.metrics.clone().expect("the metrics-only address");
    let gauge = |name: &'static str| {
        let (http, url) = (http.clone(), metrics_url.clone());
        async move { sample(&scrape(&http, &url, None).await.1, name) }
    };
    // An open event stream and a parked long-poll are counted while they last.
    let stream = http
        .get(server.url("/api/events"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(gauge("openclaw_fleet_sse_clients").await, 1.0);
    drop(stream);
    let poll = {
        let (http, url, token) = (
            http.clone(),
            server.url(&format!(
                "/api/agents/{}/config?after_version=1&wait=30",
                host.id
            )),
            token.clone(),
        );
        tokio::spawn(async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    until(|| gauge("openclaw_fleet_long_poll_waiters"), 1.0).await;
    let v2 = envelope(&host.es, &host.id, 2, &config_document("v2"));
    let (status, body) = fleet
        .call(
            "PUT",
            &format!("/api/agents/{}/config", host.id),
            &owner,
            Some(&json!({"config": v2})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(poll.await.unwrap(), 200);
    assert_eq!(gauge("openclaw_fleet_long_poll_waiters").await, 0.0);
    // A stream that was let go is noticed once the server writes to it: each heartbeat
    // sends it an event.
    let mut beats = 0;
    until(
        || {
            beats += 1;
            let (fleet, host, token, gauge) = (&fleet, &host, &token, &gauge);
            async move {
                assert_eq!(fleet.heartbeat(host, token).await, 200);
                gauge("openclaw_fleet_sse_clients").await
            }
        },
        0.0,
    )
    .await;

    let (status, after) = scrape(&http, &metrics_url, None).await;
    assert_eq!(
        status, 200,
        "the metrics-only address needs no token: {after}"
    );
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        moved(r#"openclaw_fleet_handshakes_total{outcome="accepted"}"#),
        1.0,
        "{after}"
    );
    assert_eq!(
        moved(r#"openclaw_fleet_handshakes_total{outcome="unauthorized"}"#),
        1.0,
        "{after}"
    );
    let sent = 3.0 + f64::from(beats);
    assert_eq!(
        moved(r#"openclaw_fleet_heartbeats_total{outcome="accepted"}"#),
        sent,
        "{after}"
    );
    // The handshake's batch, and at least one flush of the heartbeats (the scrape
    // flushes before it counts agents by status).
    assert!(
        moved("openclaw_fleet_write_batch_size_count") >= 2.0,
        "{after}"
    );
    assert!(
        moved("openclaw_fleet_write_batch_seconds_count") >= 2.0,
        "{after}"
    );
    // The history queue's drop counter is exposed (nothing was dropped here).
    assert!(
        after
            .lines()
            .any(|l| l == "openclaw_fleet_heartbeat_samples_dropped_total 0"),
        "{after}"
    );
    assert_eq!(
        sample(&after, r#"openclaw_fleet_agents{status="healthy"}"#),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, r#"openclaw_fleet_agents{status="offline"}"#),
        0.0,
        "{after}"
    );
    assert!(
        sample(&after, "openclaw_fleet_db_pool_connections") >= 1.0,
        "{after}"
    );
    let other = metrics_url.replace("/metrics", "/api/auth/status");
    assert_eq!(http.get(other).send().await.unwrap().status(), 404);

    let log = server.stop().await;
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("access: request"))
        .collect();
    let config_line = access
        .iter()
        .find(|l| l.contains("method=GET route=/api/agents/{id}/config"))
        .unwrap_or_else(|| panic!("no access line for the config read in:\n{log}"));
    for field in [
        "method=GET",
        "status=200",
        "client=127.0.0.1",
        "latency_ms=",
    ] {
        assert!(
            config_line.contains(field),
            "{field} missing: {config_line}"
        );
    }
    assert!(access
        .iter()
        .any(|l| l.contains("route=/metrics") && l.contains("status=401")));
    for line in &access {
        for never in [
            host.id.as_str(),
            "after_version",
            "ocf_",
            TOKEN,
            &owner,
            &token,
        ] {
            assert!(
                !line.contains(never),
                "the access log holds {never:?}: {line}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_log_format_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut flag = args(&["serve", "--log-format", "yaml"]);
    flag.extend(storage(tmp.path(), None));
    let out = run(&flag, &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("possible values: text, json"),
        "{}",
        out.stderr
    );
    let mut env = args(&["serve"]);
    env.extend(storage(tmp.path(), None));
    let out = run(&env, &[("OPENCLAW_FLEET_LOG_FORMAT", "yaml")]).await;
    assert_eq!(out.code, 1, "{out:?}");
    let said = out.stderr.to_lowercase();
    assert!(
        said.contains("log_format") && said.contains("json"),
        "{}",
        out.stderr
    );
    assert!(
        !tmp.path().join("fleet.db").exists(),
        "a refused start touched the data dir"
    );
}
