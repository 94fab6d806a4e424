//! The agent against a hostile server: an older version, another agent's
//! envelope and a forged one are refused, the last good config stays on
//! disk, and the refusal's code is reported in the next heartbeat. Token
//! revocation and renewal are driven from the same server.

use std::time::{Duration, Instant};

use openclaw_fleet_protocol::{AgentId, AgentSecret, EncryptionSecret};
use serde_json::Value;

use crate::common::hostile::{spawn_gateway, Hostile};
use crate::common::{doc, seal_for, wait_for, Host};

const WAIT: Duration = Duration::from_secs(20);

async fn hostile_host() -> (Hostile, Host) {
    let secret = AgentSecret::generate().expose_secret().to_string();
    let hostile = Hostile::spawn(&secret).await;
    let mut host = Host::new(&hostile.url(), &AgentId::new_v4().to_string(), &secret);
    host.gateway_url = spawn_gateway().await;
    (hostile, host)
}

/// Waits for a heartbeat that satisfies `ok`, returning it.
async fn heartbeat_where(hostile: &Hostile, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, WAIT, || async {
        hostile.last_heartbeat().map(|(_, b)| b).filter(|b| ok(b))
    })
    .await
}

fn files(host: &Host) -> (Option<String>, Option<String>) {
    (host.read(".env"), host.read("openclaw.json"))
}

#[tokio::test]
async fn refused_envelopes_keep_the_last_good_config_and_are_reported() {
    let (hostile, host) = hostile_host().await;
    hostile.serve(host.seal(2, &doc("sk-ant-good")));
    let started = Instant::now();
    let _daemon = host.spawn(&[]);
    let hb = heartbeat_where(&hostile, "v2 applied", |b| b["config_version_applied"] == 2).await;
    assert_eq!(hb["status"], "healthy", "{hb}");
    assert!(hb.get("error").is_none(), "{hb}");
    assert!(hb["metrics"]["latency_ms"].is_number(), "{hb}");
    let good = files(&host);
    assert!(good.0.as_deref().unwrap().contains("sk-ant-good"));

    let other_agent = AgentId::new_v4();
    let cases = [
        (host.seal(1, &doc("sk-ant-old")), "config_rollback"),
        (
            seal_for(
                &host.encryption_secret,
                &other_agent,
                3,
                &doc("sk-ant-other"),
            ),
            "config_wrong_agent",
        ),
        (
            seal_for(
                &EncryptionSecret::generate(),
                &host.agent_id,
                3,
                &doc("sk-ant-forged"),
            ),
            "config_auth_failed",
        ),
    ];
    for (envelope, code) in cases {
        hostile.serve(envelope);
        let hb = heartbeat_where(&hostile, code, |b| b["error"] == code).await;
        assert_eq!(hb["status"], "error");
        assert_eq!(hb["config_version_applied"], 2, "{hb}");
        assert_eq!(
            files(&host),
            good,
            "{code}: the last good config was not kept"
        );
    }

    hostile.serve(host.seal(3, &doc("sk-ant-three")));
    let hb = heartbeat_where(&hostile, "v3 applied", |b| b["config_version_applied"] == 3).await;
    assert_eq!(
        hb["status"], "healthy",
        "a good config clears the error: {hb}"
    );
    assert!(host.read(".env").unwrap().contains("sk-ant-three"));

    // The hostile server answers config polls at once; the agent must not spin.
    let polls = hostile.state.lock().unwrap().config_polls;
    let secs = started.elapsed().as_secs_f64();
    assert!(
        (polls as f64) < secs * 2.0 + 10.0,
        "{polls} polls in {secs:.0} s"
    );
    host.assert_no_secret_in(
        &host.log(),
        &[
            "sk-ant-good",
            "sk-ant-old",
            "sk-ant-other",
            "sk-ant-forged",
            "sk-ant-three",
            "token-",
        ],
    );
}

#[tokio::test]
async fn a_refused_token_leads_to_a_new_handshake_and_a_renewed_token_is_used() {
    let (hostile, host) = hostile_host().await;
    let _daemon = host.spawn(&[]);
    wait_for("first heartbeat", WAIT, || async {
        hostile.last_heartbeat()
    })
    .await;
    assert_eq!(hostile.handshake_count(), 1);

    hostile.revoke_tokens();
    wait_for("heartbeat with a new token", WAIT, || async {
        hostile
            .last_heartbeat()
            .filter(|(token, _)| token != "token-1")
    })
    .await;
    assert!(hostile.handshake_count() >= 2);

    hostile.state.lock().unwrap().renew_next = true;
    wait_for("heartbeat with the renewed token", WAIT, || async {
        hostile
            .last_heartbeat()
            .filter(|(token, _)| token.starts_with("renewed-"))
    })
    .await;
    let handshakes = hostile.handshake_count();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        hostile.handshake_count(),
        handshakes,
        "renewal must not need a handshake"
    );

    // Every handshake signed a distinct timestamp, sent as a string.
    let signed = hostile.state.lock().unwrap().handshakes.clone();
    assert!(signed.iter().all(|h| h["timestamp"].is_string()));
    let mut stamps: Vec<_> = signed.iter().map(|h| h["timestamp"].to_string()).collect();
    stamps.dedup();
    assert_eq!(stamps.len(), signed.len());
}

#[tokio::test]
async fn once_exits_non_zero_on_a_rollback_and_reports_it() {
    let (hostile, host) = hostile_host().await;
    hostile.serve(host.seal(2, &doc("sk-ant-good")));
    let out = tokio::task::spawn_blocking({
        let mut cmd = host.command(&["run", "--once"]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let good = files(&host);

    hostile.serve(host.seal(1, &doc("sk-ant-old")));
    let out = tokio::task::spawn_blocking({
        let mut cmd = host.command(&["run", "--once"]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: config refused (config_rollback)"),
        "{stderr}"
    );
    assert_eq!(files(&host), good);
    let (_, hb) = hostile.last_heartbeat().unwrap();
    assert_eq!(hb["error"], "config_rollback");
    host.assert_no_secret_in(&stderr, &["sk-ant-good", "sk-ant-old"]);
}

#[tokio::test]
async fn nothing_is_ever_signed_for_a_server_time_a_day_away() {
    let (hostile, host) = hostile_host().await;
    hostile.state.lock().unwrap().clock_offset = 86_400;
    let _daemon = host.spawn(&[]);
    wait_for("three refused handshakes", WAIT, || async {
        (hostile.state.lock().unwrap().attempts.len() >= 3).then_some(())
    })
    .await;
    let now = crate::common::wall_clock();
    let attempts = hostile.state.lock().unwrap().attempts.clone();
    for a in &attempts {
        let ts: i64 = a["timestamp"].as_str().unwrap().parse().unwrap();
        assert!((ts - now).abs() < 120, "signed for the server's time: {a}");
    }
    assert_eq!(hostile.handshake_count(), 0);
    let log = host.log();
    assert!(log.contains("too far from the server's"), "{log}");
    assert!(log.contains("fix this host's clock"), "{log}");

    // Within the bound the same server's time is adopted.
    hostile.state.lock().unwrap().clock_offset = 300;
    wait_for(
        "a heartbeat after correcting by 300 s",
        Duration::from_secs(90),
        || async { hostile.last_heartbeat() },
    )
    .await;
    let signed = hostile.state.lock().unwrap().handshakes.clone();
    let ts: i64 = signed[0]["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((ts - (crate::common::wall_clock() + 300)).abs() < 90);
}

#[tokio::test]
async fn a_monitor_only_daemon_never_polls_for_configs_and_says_so_once() {
    let (hostile, host) = hostile_host().await;
    hostile.serve(host.seal(1, &doc("sk-ant-not-for-you")));
    let log = std::fs::File::create(host.log_path()).unwrap();
    let _daemon = crate::common::Daemon(
        host.command(&["run"])
            .env_remove("OPENCLAW_FLEET_ENCRYPTION_SECRET")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_for("three heartbeats", WAIT, || async {
        (hostile.heartbeats().len() >= 3).then_some(())
    })
    .await;
    assert_eq!(hostile.state.lock().unwrap().config_polls, 0);
    for hb in hostile.heartbeats() {
        assert_eq!(hb["config_delivery"], "not_set_up", "{hb}");
        assert_eq!(hb["config_version_applied"], 0, "{hb}");
    }
    assert!(host.read(".env").is_none());
    let log = host.log();
    assert_eq!(log.matches("monitor-only").count(), 1, "{log}");
    host.assert_no_secret_in(&log, &["sk-ant-not-for-you"]);
}
