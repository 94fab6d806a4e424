//! The agent binary against the real fleet server: `--once`, config delivery
//! through the owner API, clock-skew correction, and riding out an outage.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{doc, mode, wait_for, FleetServer, Host, Owner};

const ANY_PORT: &str = "127.0.0.1:0";

async fn setup(clock_offset: Option<i64>) -> (tempfile::TempDir, FleetServer, Owner, Host) {
    setup_with(clock_offset, "dev").await
}

async fn setup_with(
    clock_offset: Option<i64>,
    policy: &str,
) -> (tempfile::TempDir, FleetServer, Owner, Host) {
    let data = tempfile::tempdir().unwrap();
    let server = FleetServer::start(data.path(), ANY_PORT.parse().unwrap(), clock_offset);
    let owner = Owner::register(&server.url()).await;
    let (id, secret) = owner.create_agent("host-1", policy).await;
    let host = Host::new(&server.url(), &id, &secret);
    (data, server, owner, host)
}

#[tokio::test]
async fn once_applies_the_saved_config_and_the_server_shows_the_heartbeat() {
    let (_data, _server, owner, host) = setup(None).await;
    let id = host.agent_id.to_string();
    assert_eq!(owner.agent(&id).await["status"], "pending");
    owner
        .save_config(&id, host.seal(1, &doc("sk-ant-once")))
        .await;

    let out = tokio::task::spawn_blocking({
        let cmd = host.command(&["run", "--once"]);
        move || {
            let mut cmd = cmd;
            cmd.output().unwrap()
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "agent failed: {stderr}");
    host.assert_no_secret_in(&stderr, &["sk-ant-once"]);

    let env_path = host.state_dir().join(".env");
    assert_eq!(mode(&env_path), 0o600);
    assert!(host
        .read(".env")
        .unwrap()
        .contains("ANTHROPIC_API_KEY='sk-ant-once'"));
    let json: Value = serde_json::from_str(&host.read("openclaw.json").unwrap()).unwrap();
    assert_eq!(json["agents"]["defaults"]["model"], "claude");

    let agent = owner.agent(&id).await;
    assert_eq!(agent["status"], "error", "{agent}");
    assert_eq!(agent["error"], "gateway_unreachable");
    assert_eq!(agent["config_version_applied"], 1);
    assert_eq!(agent["version"], env!("CARGO_PKG_VERSION"));
    assert!(agent["last_seen"].is_number(), "{agent}");
    for metric in [
        "cpu_usage",
        "memory_usage",
        "disk_usage",
        "uptime_hours",
        "load_avg",
    ] {
        assert!(
            agent["metrics"][metric].is_number(),
            "{metric} missing: {agent}"
        );
    }
}

#[tokio::test]
async fn a_wrong_agent_secret_fails_once_with_a_one_line_reason() {
    let (_data, _server, _owner, mut host) = setup(None).await;
    host.agent_secret = "ocf_as_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
    let out = host.run_once();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("handshake failed") && last.contains("401"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_skew_of_five_minutes_is_corrected_from_server_time() {
    // The server's clock runs 300 s ahead of the host's.
    let (_data, _server, owner, host) = setup(Some(300)).await;
    let out = host.run_once();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("correcting"), "{stderr}");
    let skew = stderr
        .split("skew_seconds=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<i64>().ok());
    assert!(matches!(skew, Some(299..=301)), "skew not logged: {stderr}");
    host.assert_no_secret_in(&stderr, &[]);
    let agent = owner.agent(&host.agent_id.to_string()).await;
    assert!(agent["last_seen"].is_number(), "{agent}");
}

#[tokio::test]
async fn a_skew_of_a_day_is_refused_with_fix_this_hosts_clock() {
    let (_data, _server, owner, host) = setup(Some(86_400)).await;
    let out = host.run_once();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("this host's clock is off by +86") && last.contains("fix this host's clock"),
        "{stderr}"
    );
    let agent = owner.agent(&host.agent_id.to_string()).await;
    assert!(agent["last_seen"].is_null(), "{agent}");

    // The bound is a setting: with 0 even five minutes are refused.
    let (_data, _server, _owner, host) = setup(Some(300)).await;
    let out = host
        .command(&["run", "--once", "--max-clock-correction", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fix this host's clock"));
}

#[tokio::test]
async fn two_runs_in_the_same_second_both_succeed() {
    // A restart right after a run signs the same second: the server answers
    // `replayed` and the agent signs the next second instead of exiting 1.
    let (_data, _server, owner, host) = setup(None).await;
    let mut collided = false;
    for _ in 0..3 {
        let into_second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        tokio::time::sleep(Duration::from_millis(u64::from(1020 - into_second))).await;
        let runs: Vec<_> = (0..2)
            .map(|_| {
                host.command(&["run", "--once"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs = tokio::task::spawn_blocking(move || {
            runs.into_iter()
                .map(|c| c.wait_with_output().unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for out in &outs {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
        }
        collided = outs
            .iter()
            .any(|o| String::from_utf8_lossy(&o.stderr).contains("already used this second"));
        if collided {
            break;
        }
    }
    assert!(
        collided,
        "the runs never signed the same second: nothing tested"
    );
    let agent = owner.agent(&host.agent_id.to_string()).await;
    assert!(agent["last_seen"].is_number(), "{agent}");
}

#[tokio::test]
async fn the_daemon_applies_a_saved_config_within_seconds() {
    let (_data, _server, owner, host) = setup(None).await;
    let id = host.agent_id.to_string();
    let hook_log = host.dir.path().join("hook.log");
    let hook = format!(
        "echo \"v$OPENCLAW_FLEET_CONFIG_VERSION\" >> '{0}'; env >> '{0}'",
        hook_log.display()
    );
    let _daemon = host.spawn(&["--on-change", &hook]);
    wait_for("first heartbeat", Duration::from_secs(30), || async {
        owner.agent(&id).await["last_seen"].as_i64()
    })
    .await;
    // Let the config long-poll start its wait.
    tokio::time::sleep(Duration::from_millis(500)).await;

    owner
        .save_config(&id, host.seal(1, &doc("sk-ant-first")))
        .await;
    let saved = Instant::now();
    wait_for("v1 on disk", Duration::from_secs(10), || async {
        host.read(".env").filter(|e| e.contains("sk-ant-first"))
    })
    .await;
    let took = saved.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "config took {took:?} to arrive"
    );
    assert_eq!(mode(&host.state_dir().join(".env")), 0o600);
    wait_for(
        "applied version on the dashboard",
        Duration::from_secs(5),
        || async { (owner.agent(&id).await["config_version_applied"] == 1).then_some(()) },
    )
    .await;

    let mut v2 = doc("sk-ant-second");
    v2["env"] = serde_json::json!({"OTHER": "x"});
    owner.save_config(&id, host.seal(2, &v2)).await;
    let env = wait_for("v2 on disk", Duration::from_secs(10), || async {
        host.read(".env").filter(|e| e.contains("OTHER='x'"))
    })
    .await;
    assert!(
        !env.contains("ANTHROPIC_API_KEY"),
        "stale managed var kept: {env}"
    );
    host.assert_no_secret_in(&host.log(), &["sk-ant-first", "sk-ant-second"]);
}

#[tokio::test]
async fn the_daemon_rides_out_a_server_outage_and_reconnects() {
    // "ops" heartbeats every 15 s, so the test sees one after the restart soon.
    let (data, mut server, owner, host) = setup_with(None, "ops").await;
    let id = host.agent_id.to_string();
    let addr: SocketAddr = server.addr;
    let mut daemon = host.spawn(&[]);
    let first_seen = wait_for("first heartbeat", Duration::from_secs(30), || async {
        owner.agent(&id).await["last_seen"].as_i64()
    })
    .await;

    server.stop();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(daemon.is_running(), "the agent exited during the outage");

    let _server = FleetServer::start(data.path(), addr, None);
    // The owner's session lives in the database, so it survives the restart.
    owner
        .save_config(&id, host.seal(1, &doc("sk-ant-after")))
        .await;
    wait_for("config after restart", Duration::from_secs(20), || async {
        host.read(".env").filter(|e| e.contains("sk-ant-after"))
    })
    .await;
    wait_for(
        "heartbeat after restart",
        Duration::from_secs(40),
        || async {
            owner.agent(&id).await["last_seen"]
                .as_i64()
                .filter(|t| *t > first_seen)
        },
    )
    .await;
    assert!(daemon.is_running());
    let log = host.log();
    assert!(
        log.contains("poll failed") || log.contains("heartbeat failed"),
        "no outage in the log:\n{log}"
    );
    host.assert_no_secret_in(&log, &["sk-ant-after"]);
}

#[tokio::test]
async fn without_an_encryption_secret_the_agent_runs_monitor_only() {
    let (_data, _server, owner, host) = setup(None).await;
    let id = host.agent_id.to_string();
    owner
        .save_config(&id, host.seal(1, &doc("sk-ant-not-applied")))
        .await;
    let out = host
        .command(&["run", "--once"])
        .env_remove("OPENCLAW_FLEET_ENCRYPTION_SECRET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("monitor-only").count(), 1, "{stderr}");
    assert!(
        host.read(".env").is_none(),
        "a monitor-only agent applied a config"
    );
    let agent = owner.agent(&id).await;
    assert!(agent["last_seen"].is_number(), "{agent}");
    assert_eq!(agent["config_delivery"], "not_set_up", "{agent}");
    assert!(agent["config_version_applied"] == 0 || agent["config_version_applied"].is_null());

    // With the secret the same host takes the config and says it is ready.
    let out = host.run_once();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let agent = owner.agent(&id).await;
    assert_eq!(agent["config_delivery"], "ready", "{agent}");
    assert_eq!(agent["config_version_applied"], 1, "{agent}");
}

#[tokio::test]
async fn as_root_the_files_written_into_a_users_state_dir_belong_to_that_user() {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: giving a directory to another user needs root");
        return;
    }
    let (_data, _server, owner, host) = setup(None).await;
    std::fs::create_dir(host.state_dir()).unwrap();
    std::os::unix::fs::chown(host.state_dir(), Some(12345), Some(12345)).unwrap();
    let id = host.agent_id.to_string();
    let mut d = doc("sk-ant-owned");
    d["openclaw"]["gateway"] = serde_json::json!({"port": 1});
    owner.save_config(&id, host.seal(1, &d)).await;
    std::fs::write(host.state_dir().join("openclaw.json"), "{}\n").unwrap();
    let out = host.run_once();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(host.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = vec![
        ".env",
        openclaw_fleet_agent::state::STATE_FILE,
        "openclaw.json",
        "openclaw.json.bak",
    ];
    want.sort();
    assert_eq!(names, want);
    for name in names {
        let meta = std::fs::metadata(host.state_dir().join(&name)).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (12345, 12345, 0o600),
            "{name}"
        );
    }
}
