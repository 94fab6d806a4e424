//! `openclaw-fleet user list | reset-password | disable | enable` on the real binary,
//! beside a running server on the same database: a reset ends the account's sessions
//! and only the new password logs in; a disabled account cannot log in and its sessions
//! end, while its agents keep heartbeating and handshaking; unknown accounts and weak
//! passwords are refused with a clear message and change nothing.

use serde_json::{json, Value};

use super::proc::{args, run, storage};
use crate::common::fixtures::heartbeat;
use crate::common::{Backend, TestApp, ANON, PASSWORD};

both_backends!(operator_lists_resets_disables_and_enables_accounts);

const RESET: &str = "operator chosen password 7";

async fn operator_lists_resets_disables_and_enables_accounts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let other = app.other_owner("second@example.com").await;
    let agent = app.agent(&owner, "a").await;
    let token = app.agent_token(&agent).await;
    let settings = app.settings().clone();
    let store = storage(&settings.data_dir, settings.database_url.as_deref());
    let user = |tail: &[&str]| [args(&["user"]), args(tail), store.clone()].concat();
    let login = |email: &str, password: &str| json!({"email": email, "password": password});

    let list = run(&user(&["list"]), &[]).await.ok().json();
    let users: Vec<Value> = list["users"].as_array().unwrap().clone();
    assert_eq!(users.len(), 2, "{list}");
    let first = users
        .iter()
        .find(|u| u["email"] == owner.email.as_str())
        .unwrap();
    assert_eq!(
        (first["agents"].clone(), first["disabled"].clone()),
        (json!(1), json!(false))
    );
    assert!(first["active_sessions"].as_i64().unwrap() >= 1);
    assert!(
        !list.to_string().contains("argon2"),
        "a password hash is listed"
    );

    let tmp = tempfile::tempdir().unwrap();
    let (weak, good) = (tmp.path().join("weak"), tmp.path().join("good"));
    std::fs::write(&weak, "short\n").unwrap();
    std::fs::write(&good, format!("{RESET}\n")).unwrap();
    let reset = |email: &str, file: &std::path::Path| {
        user(&[
            "reset-password",
            "--email",
            email,
            "--password-file",
            file.to_str().unwrap(),
        ])
    };
    let out = run(&reset("nobody@example.com", &good), &[]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("no account with email nobody@example.com"),
        "{}",
        out.stderr
    );
    let out = run(&reset(&owner.email, &weak), &[]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("at least 12"), "{}", out.stderr);
    app.get("/api/me", &owner.token).await.ok(200);

    let done = run(&reset(&owner.email.to_uppercase(), &good), &[])
        .await
        .ok()
        .json();
    assert_eq!(done["ended_sessions"], 1, "{done}");
    assert!(!done.to_string().contains(RESET));
    app.get("/api/me", &owner.token)
        .await
        .err(401, "unauthorized");
    app.get("/api/me", &other.token).await.ok(200);
    app.post("/api/auth/login", ANON, &login(&owner.email, PASSWORD))
        .await
        .err(401, "invalid_credentials");
    let fresh = app
        .post("/api/auth/login", ANON, &login(&owner.email, RESET))
        .await
        .ok(200);
    let fresh = fresh.json["token"].as_str().unwrap().to_string();

    let done = run(&user(&["disable", "--email", &owner.email]), &[])
        .await
        .ok()
        .json();
    assert_eq!(
        (done["disabled"].clone(), done["ended_sessions"].clone()),
        (json!(true), json!(1))
    );
    app.get("/api/me", &fresh).await.err(401, "unauthorized");
    app.post("/api/auth/login", ANON, &login(&owner.email, RESET))
        .await
        .err(403, "account_disabled");
    let hb = heartbeat(&agent.id, "healthy", json!({"cpu_usage": 3}));
    app.heartbeat(&token, &hb).await.ok(200);
    let renewed = app.agent_token(&agent).await;
    app.heartbeat(&renewed, &hb).await.ok(200);
    let list = run(&user(&["list"]), &[]).await.ok().json();
    let row = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == owner.email.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["disabled"], true);
    assert_eq!(row["active_sessions"], 0);

    run(&user(&["enable", "--email", &owner.email]), &[])
        .await
        .ok();
    app.post("/api/auth/login", ANON, &login(&owner.email, RESET))
        .await
        .ok(200);
    let out = run(&user(&["disable", "--email", "nobody@example.com"]), &[]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no account"), "{}", out.stderr);
}
