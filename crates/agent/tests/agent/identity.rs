//! Ed25519 agents (spec/SPEC-identity.md) with the real agent binary and the
//! real server: the key pair made on first run, enrollment with the owner's
//! token, then handshakes, heartbeats and configs like an HMAC agent; a
//! spent token enrolls nothing else; switching an HMAC agent cuts its secret
//! off until the host enrolls; re-enrolling replaces the key.

use serde_json::Value;

use crate::common::{doc, mode, FleetServer, Host, Owner};

const KEY_FILE: &str = ".fleet-agent-identity-key";

async fn server() -> (tempfile::TempDir, FleetServer, Owner) {
    let data = tempfile::tempdir().unwrap();
    let server = FleetServer::start(data.path(), "127.0.0.1:0".parse().unwrap(), None);
    let owner = Owner::register(&server.url()).await;
    (data, server, owner)
}

/// Runs `run --once` off the async runtime; (success, stderr).
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
    let text = host.read(KEY_FILE).expect("key file");
    openclaw_fleet_protocol::IdentityKey::parse(text.trim())
        .expect("an ocf_ik_ key")
        .public_key()
        .to_string()
}

#[tokio::test]
async fn an_ed25519_agent_enrolls_once_then_runs_like_an_hmac_one() {
    let (_data, server, owner) = server().await;
    let (id, token) = owner.create_ed25519_agent("ed-1").await;
    let host = Host::ed25519(&server.url(), &id, &token);
    owner
        .save_config(&id, host.seal(1, &doc("sk-ant-ed")))
        .await;

    let (ok, stderr) = once(&host).await;
    assert!(ok, "agent failed: {stderr}");
    host.assert_no_secret_in(&stderr, &["sk-ant-ed"]);
    assert_eq!(mode(&host.state_dir().join(KEY_FILE)), 0o600);
    let public_key = public_key_of(&host);
    assert!(
        stderr.contains(&public_key),
        "the public key is named: {stderr}"
    );
    let agent: Value = owner.agent(&id).await;
    assert_eq!(agent["identity"], "ed25519", "{agent}");
    assert_eq!(agent["public_key"], public_key.as_str(), "{agent}");
    assert_eq!(agent["config_version_applied"], 1);
    assert!(agent["last_seen"].is_number(), "{agent}");
    assert!(host.read(".env").unwrap().contains("sk-ant-ed"));

    // A restart signs with the key and presents the spent token no more.
    let (ok, stderr) = once(&host).await;
    assert!(ok, "restart failed: {stderr}");
    assert!(!stderr.contains("enrolled this host"), "{stderr}");

    // Another host (another key) cannot use the spent token.
    let thief = Host::ed25519(&server.url(), &id, &token);
    let (ok, stderr) = once(&thief).await;
    assert!(!ok);
    assert!(stderr.contains("refused the enrollment"), "{stderr}");
    thief.assert_no_secret_in(&stderr, &[]);
    assert_eq!(owner.agent(&id).await["public_key"], public_key.as_str());
    let (ok, stderr) = once(&host).await;
    assert!(ok, "the enrolled key stopped working: {stderr}");
}

#[tokio::test]
async fn switching_an_hmac_agent_cuts_its_secret_off_until_the_host_enrolls() {
    let (_data, server, owner) = server().await;
    let (id, secret) = owner.create_agent("was-hmac", "dev").await;
    let mut host = Host::new(&server.url(), &id, &secret);
    let (ok, stderr) = once(&host).await;
    assert!(ok, "{stderr}");

    let token = owner.enrollment_token(&id).await;
    let (ok, stderr) = once(&host).await;
    assert!(!ok, "the deleted secret still handshakes");
    assert!(stderr.contains("401"), "{stderr}");

    host.agent_secret = String::new();
    host.enrollment_token = Some(token);
    let (ok, stderr) = once(&host).await;
    assert!(ok, "{stderr}");
    let agent = owner.agent(&id).await;
    assert_eq!(agent["identity"], "ed25519");
    assert_eq!(agent["public_key"], public_key_of(&host).as_str());
}

#[tokio::test]
async fn re_enrolling_with_a_new_token_replaces_the_key() {
    let (_data, server, owner) = server().await;
    let (id, token) = owner.create_ed25519_agent("rekey").await;
    let old = Host::ed25519(&server.url(), &id, &token);
    let (ok, stderr) = once(&old).await;
    assert!(ok, "{stderr}");

    // The owner issues a new token (say the host was rebuilt): a new key enrolls with it.
    let fresh = owner.enrollment_token(&id).await;
    let new = Host::ed25519(&server.url(), &id, &fresh);
    let (ok, stderr) = once(&new).await;
    assert!(ok, "{stderr}");
    assert_ne!(public_key_of(&new), public_key_of(&old));
    assert_eq!(
        owner.agent(&id).await["public_key"],
        public_key_of(&new).as_str()
    );
    let (ok, stderr) = once(&old).await;
    assert!(!ok, "the replaced key still handshakes");
    assert!(stderr.contains("401"), "{stderr}");
}
