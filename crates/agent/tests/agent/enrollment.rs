//! The agent's Ed25519 enrollment against a test server that checks every
//! proof and signature strictly with the protocol crate (the same flow
//! against the real server: `identity.rs`): the key made on first run
//! enrolls once, a restart handshakes without the spent token, a daemon runs
//! on the key, and a refused token stops `--once` with the fix.

use std::time::Duration;

use openclaw_fleet_protocol::{AgentId, EnrollmentToken, IdentityKey};

use crate::common::hostile::{spawn_gateway, Hostile};
use crate::common::{mode, wait_for, Host};

const KEY_FILE: &str = ".fleet-agent-identity-key";

async fn ed25519_host() -> (Hostile, Host, String) {
    let hostile = Hostile::spawn("").await;
    let token = EnrollmentToken::generate().expose_secret().to_string();
    hostile.expect_enrollment(&token);
    let mut host = Host::ed25519(&hostile.url(), &AgentId::new_v4().to_string(), &token);
    host.gateway_url = spawn_gateway().await;
    (hostile, host, token)
}

async fn once(host: &Host) -> (bool, String) {
    let cmd = host.command(&["run", "--once"]);
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn public_key_of(host: &Host) -> String {
    IdentityKey::parse(host.read(KEY_FILE).expect("key file").trim())
        .unwrap()
        .public_key()
        .to_string()
}

#[tokio::test]
async fn the_key_made_on_first_run_enrolls_once_then_signs_every_handshake() {
    let (hostile, host, token) = ed25519_host().await;
    let (ok, stderr) = once(&host).await;
    assert!(ok, "{stderr}");
    assert_eq!(mode(&host.state_dir().join(KEY_FILE)), 0o600);
    let pk = public_key_of(&host);
    {
        let s = hostile.state.lock().unwrap();
        assert_eq!(s.public_key.as_deref(), Some(pk.as_str()));
        assert_eq!(s.enrolls.len(), 1);
        assert_eq!(s.handshakes.len(), 1);
        assert_eq!(s.handshakes[0]["alg"], "ed25519");
        assert!(s.handshakes[0].get("agent_secret").is_none());
    }
    host.assert_no_secret_in(&stderr, &[]);
    assert!(!stderr.contains(&token[7..]), "the token reached the log");

    // A restart: no second enrollment (the token is spent), a handshake with the key.
    let (ok, stderr) = once(&host).await;
    assert!(ok, "{stderr}");
    assert_eq!(hostile.state.lock().unwrap().enrolls.len(), 1);
    assert!(hostile.handshake_count() >= 2);

    // The daemon runs on the key: heartbeats arrive.
    let _daemon = host.spawn(&[]);
    let before = hostile.heartbeats().len();
    wait_for(
        "a heartbeat from the daemon",
        Duration::from_secs(20),
        || async { (hostile.heartbeats().len() > before).then_some(()) },
    )
    .await;
    assert_eq!(hostile.state.lock().unwrap().enrolls.len(), 1);
}

#[tokio::test]
async fn a_lost_enrollment_answer_is_recovered_and_a_refused_token_is_explained() {
    let (hostile, host, _token) = ed25519_host().await;
    let (ok, stderr) = once(&host).await;
    assert!(ok, "{stderr}");
    // The record is lost (as if the answer never arrived): the spent token is
    // refused, a handshake shows the key is enrolled, and the run succeeds.
    std::fs::remove_file(host.state_dir().join(".fleet-agent-enrollment.json")).unwrap();
    let (ok, stderr) = once(&host).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("already spent, by this key"), "{stderr}");
    assert!(host.read(".fleet-agent-enrollment.json").is_some());

    // Another host with the spent token: refused, with the fix, nothing quoted.
    let mut thief = Host::ed25519(
        &hostile.url(),
        &host.agent_id.to_string(),
        host.enrollment_token.as_deref().unwrap(),
    );
    thief.gateway_url = host.gateway_url.clone();
    let (ok, stderr) = once(&thief).await;
    assert!(!ok);
    assert!(stderr.contains("issue a new enrollment token"), "{stderr}");
    thief.assert_no_secret_in(&stderr, &[]);
    assert_eq!(
        hostile.state.lock().unwrap().public_key.as_deref(),
        Some(public_key_of(&host).as_str()),
        "the refused enrollment changed nothing"
    );
}
