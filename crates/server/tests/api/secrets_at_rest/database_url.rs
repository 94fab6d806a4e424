//! A PostgreSQL URL's passwords — in the userinfo, `?password=`, `?sslpassword=` — never
//! reach the server's output: not the start-up lines, not the driver's warnings, not the
//! error a failed connection ends with. And what the start-up lines must say: a server
//! without autovacuum is warned about (heartbeats update every agent's row all the time).

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::common::{skip_postgres, PgDatabase};

use super::process::start;

const SECRETS: [&str; 3] = ["UserinfoPw-1", "QueryPw-2", "SslKeyPw-3"];

/// `url` (`postgres://user@host/db`) with the three secrets added.
fn with_secrets(url: &str) -> String {
    let url = url.replacen("@", &format!(":{}@", SECRETS[0]), 1);
    format!(
        "{url}?password={}&sslpassword={}&application_name=fleet",
        SECRETS[1], SECRETS[2]
    )
}

#[track_caller]
fn assert_no_secret(output: &str) {
    for secret in SECRETS {
        assert!(!output.contains(secret), "{secret} printed in:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_url_passwords_stay_out_of_logs_and_errors() {
    if skip_postgres() {
        return;
    }
    // A server that connects (trust authentication ignores the passwords).
    let pg = PgDatabase::create().await;
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&tmp.path().join("data"), Some(&with_secrets(&pg.url))).await;
    // Serving (so its signal handler is in place before it is stopped).
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let logs = String::from_utf8_lossy(&server.stop().await).into_owned();
    assert!(logs.contains("database ready"), "capture broken:\n{logs}");
    assert!(
        logs.contains("sslpassword"),
        "the ignored parameter is not named:\n{logs}"
    );
    assert_no_secret(&logs);
    let mut conn = PgConnection::connect(&pg.url).await.unwrap();
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        logs.contains("runs with autovacuum = off"),
        autovacuum == "off",
        "autovacuum is {autovacuum}; the start-up lines:\n{logs}"
    );

    // A server that cannot connect (no such role) says why, without the passwords.
    let url = with_secrets(&pg.url.replacen("postgres@", "no_such_role@", 1));
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-fleet"))
            .env("OPENCLAW_FLEET_LOG", "trace")
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &url,
                "--data-dir",
            ])
            .arg(tmp.path().join("data2"))
            .output(),
    )
    .await
    .expect("the server gives up")
    .expect("the server runs");
    assert!(!out.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("no_such_role"),
        "no reason given:\n{printed}"
    );
    assert_no_secret(&printed);
}
