//! Switching a host from the Python monitor to the Rust agent keeps the
//! rollback floor: both read and write the one state file
//! (`.fleet-agent-state.json`, spec/test-vectors/apply.json). The monitor
//! itself (python/openclaw_fleet_monitor.py, run by python3) applies
//! version 5; the agent binary then refuses version 4 from a hostile server,
//! keeps the monitor's files, and applies version 6.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use openclaw_fleet_protocol::{AgentId, AgentSecret};
use serde_json::{json, Value};

use crate::common::hostile::{spawn_gateway, Hostile};
use crate::common::{doc, wait_for, Host};

const WAIT: Duration = Duration::from_secs(20);

/// Applies `envelope` with the monitor's own `apply_envelope`.
fn monitor_applies(host: &Host, envelope: &Value) {
    let monitor = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python");
    let script = "import json, sys\n\
                  import openclaw_fleet_monitor as m\n\
                  a = json.load(sys.stdin)\n\
                  changed, state = m.apply_envelope(a['dir'], a['envelope'], a['agent'], a['secret'])\n\
                  assert changed and state.applied == a['envelope']['version']\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .env("PYTHONPATH", &monitor)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the monitor's suite needs it too)");
    let input = json!({
        "dir": host.state_dir(),
        "envelope": envelope,
        "agent": host.agent_id.to_string(),
        "secret": host.encryption_secret.to_encoded().as_str(),
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the monitor did not apply the config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_agent_keeps_the_rollback_floor_the_monitor_wrote() {
    let secret = AgentSecret::generate().expose_secret().to_string();
    let hostile = Hostile::spawn(&secret).await;
    let mut host = Host::new(&hostile.url(), &AgentId::new_v4().to_string(), &secret);
    host.gateway_url = spawn_gateway().await;
    std::fs::create_dir_all(host.state_dir()).unwrap();

    monitor_applies(&host, &host.seal(5, &doc("sk-ant-five")));
    let written = (host.read(".env"), host.read("openclaw.json"));
    assert!(written.0.as_deref().unwrap().contains("sk-ant-five"));
    assert!(host.read(".fleet-agent-state.json").is_some());

    hostile.serve(host.seal(4, &doc("sk-ant-four")));
    let _daemon = host.spawn(&[]);
    let hb = wait_for("the rollback refused", WAIT, || async {
        hostile
            .last_heartbeat()
            .map(|(_, b)| b)
            .filter(|b| b["error"] == "config_rollback")
    })
    .await;
    assert_eq!(hb["status"], "error");
    assert_eq!(hb["config_version_applied"], 5, "{hb}");
    assert_eq!(
        (host.read(".env"), host.read("openclaw.json")),
        written,
        "the monitor's files were kept"
    );

    hostile.serve(host.seal(6, &doc("sk-ant-six")));
    wait_for("v6 applied", WAIT, || async {
        hostile
            .last_heartbeat()
            .map(|(_, b)| b)
            .filter(|b| b["config_version_applied"] == 6)
    })
    .await;
    let env = host.read(".env").unwrap();
    assert!(env.contains("sk-ant-six") && !env.contains("sk-ant-five"));
}
