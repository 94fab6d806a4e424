//! Logging in and out, the private session file, and the usage errors a
//! script can tell apart by exit code.

use crate::common::{mode, Backend, Ctl, FleetServer, Owner, Setup, EMAIL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_needs_the_right_password_and_keeps_nothing_otherwise() {
    let server = FleetServer::start(Backend::Sqlite);
    Owner::register(&server.url(), EMAIL).await;
    let ctl = Ctl::new();
    ctl.run(&["agents", "list"], None).await.code(3);
    let wrong = ctl.file("pw", "not the password");
    let out = ctl
        .run(
            &[
                "login",
                "--url",
                &server.url(),
                "--email",
                EMAIL,
                "--password-file",
                wrong.to_str().unwrap(),
            ],
            None,
        )
        .await
        .code(3);
    assert!(
        out.stderr.contains("wrong email or password"),
        "{}",
        out.stderr
    );
    assert!(!ctl.config_dir().join("session.json").exists());
    let out = ctl
        .run(
            &[
                "login",
                "--url",
                &server.url(),
                "--email",
                EMAIL,
                "--password-file",
                "-",
            ],
            Some(&format!("{}\n", crate::common::PASSWORD)),
        )
        .await
        .ok();
    assert!(out.stdout.contains(EMAIL));
    let who = ctl.run(&["--json", "whoami"], None).await.ok().json();
    assert_eq!(who["email"], EMAIL);
    // No terminal to prompt on, and no file: a clear usage error.
    let out = ctl
        .run(&["login", "--url", &server.url(), "--email", EMAIL], None)
        .await
        .code(2);
    assert!(out.stderr.contains("--password-file"), "{}", out.stderr);
    ctl.run(
        &[
            "login",
            "--url",
            "http://fleet.example.com",
            "--email",
            EMAIL,
        ],
        None,
    )
    .await
    .code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_login_ends_the_previous_session() {
    let s = Setup::new(Backend::Sqlite).await;
    s.ctl.login(&s.server.url()).await.ok();
    let first = crate::flow::ctl_token(&s.ctl);
    s.ctl.login(&s.server.url()).await.ok();
    let second = crate::flow::ctl_token(&s.ctl);
    assert_ne!(first, second);
    let (status, _) = s
        .owner
        .with_token(&first)
        .call(reqwest::Method::GET, "/api/me", None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_keeps_the_session_while_the_server_is_unreachable() {
    let mut s = Setup::new(Backend::Sqlite).await;
    s.ctl.login(&s.server.url()).await.ok();
    s.server.stop();
    let out = s.ctl.run(&["logout"], None).await.code(7);
    assert!(out.stderr.contains("logout --local"), "{}", out.stderr);
    assert!(s.ctl.config_dir().join("session.json").exists());
    s.ctl.run(&["agents", "list"], None).await.code(7);
    s.ctl.run(&["logout", "--local"], None).await.ok();
    assert!(!s.ctl.config_dir().join("session.json").exists());
    s.ctl.run(&["logout"], None).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_file_other_users_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new(Backend::Sqlite).await;
    s.ctl.login(&s.server.url()).await.ok();
    let file = s.ctl.config_dir().join("session.json");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.ctl.run(&["agents", "list"], None).await.code(6);
    assert!(
        out.stderr.contains("readable or writable by other users"),
        "{}",
        out.stderr
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    s.ctl.run(&["agents", "list"], None).await.ok();
    assert_eq!(mode(&file), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_can_tell_failures_apart_by_exit_code() {
    let s = Setup::new(Backend::Sqlite).await;
    s.owner.create_agent("twin", None).await;
    s.owner.create_agent("twin", None).await;
    s.ctl.login(&s.server.url()).await.ok();
    let mk = s.mk.as_str();
    for (args, code) in [
        (vec!["agents", "show", "nobody"], 4),
        (
            vec!["agents", "show", "00000000-0000-4000-8000-000000000000"],
            4,
        ),
        (vec!["agents", "list", "--fleet", "nope"], 4),
        (vec!["agents", "show", "twin"], 2),
        (vec!["agents", "list", "--status", "sleepy"], 2),
        (vec!["config", "set", "web-1", "--master-key-file", mk], 2),
        (
            vec![
                "config",
                "set",
                "web-1",
                "--env",
                "lower=1",
                "--master-key-file",
                mk,
            ],
            2,
        ),
        (
            vec![
                "config",
                "set",
                "web-1",
                "--env",
                "A=1",
                "--unset",
                "A",
                "--master-key-file",
                mk,
            ],
            2,
        ),
        (
            vec![
                "config",
                "set",
                "web-1",
                "--env",
                "A=1",
                "--master-key-file",
                "-",
                "--openclaw",
                "-",
            ],
            2,
        ),
        (
            vec![
                "env",
                "set",
                "A",
                "--agent",
                "web-1",
                "--master-key-file",
                "-",
            ],
            2,
        ),
        (
            vec![
                "config",
                "apply",
                "--fleet",
                "x",
                "--concurrency",
                "0",
                "--env",
                "A=1",
            ],
            2,
        ),
    ] {
        let out = s.ctl.run(&args, None).await;
        assert_eq!(out.code, code, "{args:?}: {}", out.all());
        assert!(out.stderr.starts_with("error"), "{args:?}: {}", out.stderr);
    }
    let twins = s.ctl.run(&["agents", "show", "twin"], None).await;
    assert!(
        twins.stderr.contains("2 agents are named"),
        "{}",
        twins.stderr
    );
    let setup = s.ctl.file("taken.es", "occupied");
    s.ctl
        .run(
            &[
                "agents",
                "setup-encryption",
                "web-1",
                "--secret-file",
                "/nonexistent/x",
                "--master-key-file",
                mk,
            ],
            None,
        )
        .await
        .code(5);
    assert_eq!(std::fs::read_to_string(setup).unwrap(), "occupied");
}
