//! The agent against the real server speaking HTTPS with a certificate from a private
//! CA made here: trusted through `OPENCLAW_FLEET_CA_FILE` (on top of the system's roots),
//! refused with an error that says what to do without it or with another CA.

use std::path::{Path, PathBuf};

use openclaw_fleet::Settings;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::common::{FleetServer, Host, Owner};

/// A CA certificate (PEM) and the key that signs with it.
struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.cert.pem()).unwrap();
        path
    }

    /// A server certificate for 127.0.0.1 and localhost: (cert file, key file).
    fn issue(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}

async fn https_server() -> (tempfile::TempDir, FleetServer, PathBuf, Host) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("OpenClaw Fleet test CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let (cert, key) = ca.issue(dir.path());
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..Settings::default()
    };
    let server = FleetServer::start_with(settings, None);
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let owner = Owner::register_with(&server.url(), trusting).await;
    let (id, secret) = owner.create_agent("tls-host", "dev").await;
    let host = Host::new(&server.url(), &id, &secret);
    (dir, server, ca_file, host)
}

/// `run --once`; blocking is fine: the server runs on its own thread.
fn run_once(host: &Host, ca_file: Option<&Path>) -> (bool, String) {
    let mut cmd = host.command(&["run", "--once"]);
    if let Some(path) = ca_file {
        cmd.env("OPENCLAW_FLEET_CA_FILE", path);
    }
    let out = cmd.output().expect("the agent runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_agent_trusts_a_private_ca_only_through_its_ca_file() {
    let (dir, _server, ca_file, host) = https_server().await;

    // Without the CA file: the system's roots do not know the test CA.
    let (ok, stderr) = run_once(&host, None);
    assert!(!ok, "the agent trusted an unknown CA: {stderr}");
    assert!(
        stderr.contains("TLS certificate is not trusted")
            && stderr.contains("OPENCLAW_FLEET_CA_FILE"),
        "the error does not say what to do: {stderr}"
    );

    // Another CA's certificate in the file does not vouch for this server.
    let other = TestCa::new("another CA").write(dir.path(), "other-ca.pem");
    let (ok, stderr) = run_once(&host, Some(&other));
    assert!(!ok, "the agent trusted the wrong CA: {stderr}");
    assert!(stderr.contains("not trusted"), "{stderr}");

    // A CA file that is not PEM is refused by name.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let (ok, stderr) = run_once(&host, Some(&junk));
    assert!(!ok);
    assert!(
        stderr.contains("OPENCLAW_FLEET_CA_FILE") && stderr.contains("junk.pem"),
        "{stderr}"
    );

    // With the CA file: handshake, config fetch and heartbeat over HTTPS.
    let (ok, stderr) = run_once(&host, Some(&ca_file));
    assert!(ok, "the agent failed with the CA file: {stderr}");
}
