//! Built-in HTTPS on the real binary, with certificates from CAs made in the test:
//! `--tls-cert`/`--tls-key` serve TLS only (plain HTTP on the port gets nothing), the
//! session cookie is `Secure` and answers carry HSTS; SIGHUP swaps in the certificate
//! the files now hold, and keeps the old one when the new files do not load; a key that
//! does not fit its certificate stops the start with a message that shows no key. HSTS
//! also follows an `https://` public URL (TLS at a proxy), and is absent otherwise.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::json;

use super::proc::{args, run, serve, storage};

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

    /// Writes a certificate for 127.0.0.1 and its key to `cert`/`key` (by rename, as
    /// certificate tools do); returns the key's PEM.
    fn issue_to(&self, cert: &Path, key: &Path) -> String {
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let pair = KeyPair::generate().unwrap();
        let issued = params.signed_by(&pair, &self.cert, &self.key).unwrap();
        let pem = pair.serialize_pem();
        replace(cert, issued.pem().as_bytes());
        replace(key, pem.as_bytes());
        pem
    }

    /// A client that trusts this CA and nothing else.
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.cert.pem().as_bytes()).unwrap(),
            )
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }
}

fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn tls_args(cert: &Path, key: &Path) -> [String; 4] {
    [
        "--tls-cert".into(),
        cert.display().to_string(),
        "--tls-key".into(),
        key.display().to_string(),
    ]
}

#[tokio::test]
async fn https_serves_secure_cookies_and_hsts_and_reloads_on_sighup() {
    let tmp = tempfile::tempdir().unwrap();
    let store = storage(&tmp.path().join("data"), None);
    let (cert, key): (PathBuf, PathBuf) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let first = TestCa::new("first test CA");
    first.issue_to(&cert, &key);
    let extra = tls_args(&cert, &key);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let server = serve(&store, &extra, &[]).await;
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );

    // Over TLS, with the CA: HSTS on every answer, the session cookie is Secure.
    let client = first.client();
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let creds = json!({"email": "tls@example.com", "password": "correct horse battery staple"});
    let r = client
        .post(server.url("/api/auth/register"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(server.url("/api/auth/login"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Plain HTTP on the TLS port gets no answer; a client without the CA refuses it.
    let plain = server.base.replacen("https://", "http://", 1);
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    let err = TestCa::new("unrelated CA")
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect_err("a client that does not trust the CA refuses the server");
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");

    // New files from another CA, then SIGHUP: new connections get the new certificate.
    let second = TestCa::new("second test CA");
    second.issue_to(&cert, &key);
    server.signal("-HUP");
    let client = second.client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while client.get(server.url("/healthz")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate is not served 10 s after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        first
            .client()
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err(),
        "the old certificate is still served"
    );

    // A broken key on the next SIGHUP: the server keeps the certificate it has.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    server.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(still.status(), 200);

    let log = server.stop().await;
    assert!(log.contains("TLS certificate reloaded"), "{log}");
    assert!(log.contains("TLS certificate not reloaded"), "{log}");
}

#[tokio::test]
async fn a_key_that_does_not_fit_its_certificate_stops_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ca = TestCa::new("test CA");
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    ca.issue_to(&cert, &key);
    let other_key = ca.issue_to(&tmp.path().join("other.pem"), &key);
    let mut cmd = args(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.extend(storage(&data, None));
    cmd.extend(tls_args(&cert, &key));
    let out = run(&cmd, &[]).await;
    assert_ne!(out.code, 0, "started with a foreign key");
    assert!(out.stderr.contains("does not fit"), "{}", out.stderr);
    let body = other_key.lines().nth(1).unwrap();
    assert!(!out.stderr.contains(body), "the key is in the error");

    // Only one of the two flags is refused by the command line.
    let mut half = args(&["serve", "--listen", "127.0.0.1:0"]);
    half.extend(storage(&data, None));
    half.extend(["--tls-cert".into(), cert.display().to_string()]);
    let out = run(&half, &[]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("--tls-key"), "{}", out.stderr);
}

#[tokio::test]
async fn hsts_follows_an_https_public_url_and_is_absent_on_plain_http() {
    let tmp = tempfile::tempdir().unwrap();
    let store = storage(&tmp.path().join("a"), None);
    let proxied = serve(&store, &["--public-url", "https://fleet.example.com"], &[]).await;
    let r = reqwest::get(proxied.url("/healthz")).await.unwrap();
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    proxied.stop().await;

    let store = storage(&tmp.path().join("b"), None);
    let plain = serve(&store, &[], &[]).await;
    let r = reqwest::get(plain.url("/")).await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    plain.stop().await;
}
