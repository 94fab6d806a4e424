//! The offline alert with the real `openclaw-fleet-agent` process (issue 11): the agent
//! runs against the test server until the owner API shows it online, is killed with
//! SIGKILL, the server's clock is moved past the rule's deadline and the test's webhook
//! receiver gets exactly one signed firing notice; the agent is started again (its clock
//! is now behind the server's, which it corrects from `server_time`) and exactly one
//! signed resolved notice follows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use super::receiver::{verifies, verify, Receiver};
use super::{app, rule};
use crate::common::{Agent, Backend, Owner, TestApp};

both_backends!(killed_real_agent_fires_once_and_resolves_on_return);

/// The `openclaw-fleet-agent` binary: `OPENCLAW_FLEET_AGENT_BIN` (set by
/// `scripts/test.sh`), else the one beside this test's target directory, built once with
/// cargo (as the ctl suite does).
fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("OPENCLAW_FLEET_AGENT_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test exe");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
        let bin = profile_dir.join("openclaw-fleet-agent");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let built = Command::new(cargo)
            .args([
                "build",
                "-p",
                "openclaw-fleet-agent",
                "--bin",
                "openclaw-fleet-agent",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success() || bin.exists(), "cannot build the agent");
        bin
    })
    .clone()
}

/// A running agent daemon; killed (SIGKILL) when dropped.
struct Daemon(Child);

impl Daemon {
    fn start(app: &TestApp, agent: &Agent, home: &Path) -> Self {
        let child = Command::new(agent_binary())
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("OPENCLAW_FLEET_URL", &app.base)
            .env("OPENCLAW_FLEET_AGENT_ID", &agent.id)
            .env("OPENCLAW_FLEET_AGENT_SECRET", &agent.secret)
            .env("OPENCLAW_STATE_DIR", home.join("openclaw"))
            .env("OPENCLAW_GATEWAY_URL", "http://127.0.0.1:9")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the agent starts");
        Self(child)
    }

    /// SIGKILL: no goodbye, no last heartbeat.
    fn kill(mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the owner API shows the agent seen and not offline; returns its detail.
async fn wait_online(app: &TestApp, owner: &Owner, agent: &Agent, after: i64) -> Value {
    for _ in 0..150 {
        let d = app.agent_detail(owner, &agent.id).await;
        let seen = d["last_seen"].as_i64().is_some_and(|t| t >= after);
        if seen && d["status"] != "offline" && d["status"] != "pending" {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "the agent did not come online: {}",
        app.agent_detail(owner, &agent.id).await
    );
}

async fn killed_real_agent_fires_once_and_resolves_on_return(b: Backend) {
    let app = app(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "real-1").await;
    let rx = Receiver::start(0).await;
    let (rule_id, secret) = rule(
        &app,
        &owner,
        json!({
            "name": "host down",
            "condition": "agent_offline",
            "minutes": 2,
            "cooldown_minutes": 0,
            "webhook": { "kind": "generic", "url": format!("{}/hooks/real", rx.base) },
        }),
    )
    .await;
    let home = tempfile::tempdir().expect("temp dir");

    let daemon = Daemon::start(&app, &agent, home.path());
    let detail = wait_online(&app, &owner, &agent, app.now()).await;
    let last_seen = detail["last_seen"].as_i64().expect("last_seen");
    daemon.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rx.hits().is_empty(), "fired while online: {:?}", rx.hits());

    // Past the two minutes: one firing notice, signed with the rule's secret.
    app.clock.advance(121);
    let hits = rx.wait_for(1).await;
    verify(&hits[0], &secret, app.now());
    assert!(
        !verifies(&hits[0], "ocf_whs_wrong"),
        "a wrong secret verifies"
    );
    assert_eq!(hits[0].path, "/hooks/real");
    assert_eq!(hits[0].json["event"], "firing");
    assert_eq!(hits[0].json["rule"]["id"], rule_id.as_str());
    assert_eq!(hits[0].json["agent"]["id"], agent.id.as_str());
    assert_eq!(hits[0].json["since"], last_seen);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.hits().len(), 1, "fired more than once: {:?}", rx.hits());
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["status"],
        "offline"
    );

    // The same agent process starts again: one resolved notice.
    let back_at = app.now();
    let _daemon = Daemon::start(&app, &agent, home.path());
    wait_online(&app, &owner, &agent, back_at).await;
    let hits = rx.wait_for(2).await;
    verify(&hits[1], &secret, app.now());
    assert_eq!(hits[1].json["event"], "resolved");
    assert_eq!(hits[1].json["rule"]["id"], rule_id.as_str());
    assert_eq!(hits[1].json["agent"]["id"], agent.id.as_str());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.hits().len(), 2, "extra notices: {:?}", rx.hits());
}
