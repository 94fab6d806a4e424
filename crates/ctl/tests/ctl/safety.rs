//! The guards the CLI shares with the dashboard, attacked the way a
//! compromised server or a careless script would: KDF parameters outside the
//! policy, replayed and altered envelopes, a lower stored version, lost races
//! on the version check, another owner's agents, and secrets in the output.

use serde_json::json;

use crate::common::proxy::Proxy;
use crate::common::{Backend, FleetServer, Owner, Setup, PASSPHRASE};

fn doc(key: &str) -> serde_json::Value {
    json!({"schema": 1, "env": {"ANTHROPIC_API_KEY": key}, "openclaw": {}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kdf_parameters_outside_the_policy_are_refused() {
    let s = Setup::new(Backend::Sqlite).await;
    s.owner.save(&s.id, &s.es, 1, &doc("sk-ant-kdf")).await;
    let proxy = Proxy::start(&s.server.url()).await;
    s.ctl.login(&proxy.url).await.ok();
    for iterations in [1_000u64, 599_999, 10_000_001, 1 << 40] {
        proxy.set(|r| r.kdf_iterations = Some(iterations));
        let out = s.get().await.code(6);
        assert!(
            out.stderr.contains("refuses") && out.stderr.contains("no key was derived"),
            "{}",
            out.stderr
        );
        assert!(!out.stdout.contains("sk-ant-kdf"));
        let set = s.set("A=1").await.code(6);
        assert!(set.stderr.contains("refuses"), "{}", set.stderr);
    }
    proxy.set(|r| r.kdf_iterations = None);
    assert!(s.get().await.ok().stdout.contains("sk-ant-kdf"));
    assert_eq!(
        proxy.get(|r| r.saves),
        0,
        "nothing was saved under refused parameters"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_older_config_is_refused_across_runs() {
    let s = Setup::new(Backend::Sqlite).await;
    let proxy = Proxy::start(&s.server.url()).await;
    s.ctl.login(&proxy.url).await.ok();
    s.owner.save(&s.id, &s.es, 1, &doc("sk-ant-v1")).await;
    let v1 = s.owner.agent(&s.id).await["config"].clone();
    s.owner.save(&s.id, &s.es, 2, &doc("sk-ant-v2")).await;
    assert!(s.get().await.ok().stdout.contains("sk-ant-v2"));

    // The server now pretends version 1 is the latest: envelope and stored version.
    proxy.set(|r| r.envelope = Some(v1.clone()));
    let out = s.get().await.code(6);
    assert!(
        out.stderr.contains("replaying") && out.stderr.contains("version 1"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("sk-ant-v1"));
    s.set("A=1").await.code(6);

    // The old envelope while claiming the current stored version.
    proxy.set(|r| r.config_version = Some(2));
    assert!(s.get().await.code(6).stderr.contains("says it stores"));

    // Only a lower stored version, with the current envelope.
    proxy.set(|r| {
        r.envelope = None;
        r.config_version = Some(1);
    });
    s.get().await.code(6);
    assert_eq!(proxy.get(|r| r.saves), 0);
    assert_eq!(s.owner.agent(&s.id).await["config_version"], 2);

    // Honest again: reads and saves work.
    proxy.set(|r| r.config_version = None);
    assert_eq!(s.set("A=1").await.ok().json()["version"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_envelope_is_refused_and_nothing_is_saved() {
    let s = Setup::new(Backend::Sqlite).await;
    s.owner.save(&s.id, &s.es, 1, &doc("sk-ant-altered")).await;
    let proxy = Proxy::start(&s.server.url()).await;
    s.ctl.login(&proxy.url).await.ok();
    proxy.set(|r| r.flip_ciphertext = true);
    let out = s.get().await.code(6);
    assert!(
        out.stderr.contains("fails authentication"),
        "{}",
        out.stderr
    );
    s.set("A=1").await.code(6);
    assert_eq!(proxy.get(|r| r.saves), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_race_is_retried_and_keeps_both_changes() {
    let s = Setup::new(Backend::Sqlite).await;
    s.owner.save(&s.id, &s.es, 1, &doc("sk-ant-race")).await;
    let proxy = Proxy::start(&s.server.url()).await;
    s.ctl.login(&proxy.url).await.ok();
    let es = s.es.to_encoded().to_string();
    proxy.set(|r| {
        r.races = 2;
        r.racer = Some((es, s.owner.token.clone()));
    });
    let out = s.set("MINE=1").await.ok().json();
    assert_eq!(out["result"], "applied");
    assert_eq!(out["retries"], 2);
    assert_eq!(out["version"], 4);
    let (version, stored) = s.owner.stored_doc(&s.id, &s.es).await;
    assert_eq!(version, 4);
    assert_eq!(
        stored["env"],
        json!({"RACER": "2", "MINE": "1"}),
        "the edit was re-applied on the winner's version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_conflicts_end_with_exit_5_after_a_bounded_number_of_tries() {
    let s = Setup::new(Backend::Sqlite).await;
    let proxy = Proxy::start(&s.server.url()).await;
    s.ctl.login(&proxy.url).await.ok();
    let es = s.es.to_encoded().to_string();
    proxy.set(|r| {
        r.races = 1000;
        r.racer = Some((es, s.owner.token.clone()));
    });
    let out = s.set("MINE=1").await.code(5);
    assert!(
        out.stderr.contains("changed on the server meanwhile"),
        "{}",
        out.stderr
    );
    assert_eq!(proxy.get(|r| r.saves), 5, "five tries, then give up");
    let (_, stored) = s.owner.stored_doc(&s.id, &s.es).await;
    assert!(stored["env"].get("MINE").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_master_key_is_told_and_changes_nothing() {
    let s = Setup::new(Backend::Sqlite).await;
    s.ctl.login(&s.server.url()).await.ok();
    let wrong = s.ctl.file("wrong.key", "not the passphrase at all");
    let out = s
        .ctl
        .run(
            &[
                "config",
                "set",
                "web-1",
                "--env",
                "A=1",
                "--master-key-file",
                wrong.to_str().unwrap(),
            ],
            None,
        )
        .await
        .code(3);
    assert!(out.stderr.contains("wrong master key"), "{}", out.stderr);
    assert_eq!(s.owner.agent(&s.id).await["config_version"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_owners_agents_are_not_found() {
    let server = FleetServer::start_with(Backend::Sqlite, |st| st.open_registration = true);
    let mut alice = Owner::register(&server.url(), "alice@example.com").await;
    alice.set_master_key(PASSPHRASE).await;
    let (id, _) = alice.create_agent("alice-1", None).await;
    alice.give_secret(&id).await;
    let mut mallory = Owner::register(&server.url(), crate::common::EMAIL).await;
    mallory.set_master_key(PASSPHRASE).await;
    let ctl = crate::common::Ctl::new();
    ctl.login(&server.url()).await.ok();
    let mk = ctl.passphrase_file();
    let id = id.to_string();
    for args in [
        vec!["agents", "show", id.as_str()],
        vec!["agents", "show", "alice-1"],
        vec![
            "config",
            "get",
            id.as_str(),
            "--master-key-file",
            mk.as_str(),
        ],
        vec![
            "config",
            "set",
            id.as_str(),
            "--env",
            "A=1",
            "--master-key-file",
            mk.as_str(),
        ],
    ] {
        ctl.run(&args, None).await.code(4);
    }
    let listed = ctl
        .run(&["--json", "agents", "list"], None)
        .await
        .ok()
        .json();
    assert_eq!(listed["agents"], json!([]));
    assert_eq!(alice.agent(&id.parse().unwrap()).await["config_version"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_output_except_the_document_asked_for() {
    let s = Setup::new(Backend::Sqlite).await;
    let login = s.ctl.login(&s.server.url()).await.ok();
    let token = crate::flow::ctl_token(&s.ctl);
    let value = "sk-ant-OUTPUT-MARKER-93c1";
    let mut outputs = vec![login];
    outputs.push(
        s.ctl
            .run(
                &[
                    "env",
                    "set",
                    "ANTHROPIC_API_KEY",
                    "--agent",
                    "web-1",
                    "--master-key-file",
                    &s.mk,
                ],
                Some(value),
            )
            .await
            .ok(),
    );
    for args in [
        vec!["agents", "list"],
        vec!["--json", "agents", "list"],
        vec!["agents", "show", "web-1"],
        vec!["--json", "agents", "show", "web-1"],
        vec!["whoami"],
    ] {
        outputs.push(s.ctl.run(&args, None).await.ok());
    }
    let bad_env = s
        .ctl
        .file("bad.env", &format!("ANTHROPIC_API_KEY='{value}\n"));
    outputs.push(
        s.ctl
            .run(
                &[
                    "config",
                    "set",
                    "web-1",
                    "--env-file",
                    bad_env.to_str().unwrap(),
                    "--master-key-file",
                    &s.mk,
                ],
                None,
            )
            .await
            .code(2),
    );
    let bad_frag = s.ctl.file("bad.json5", &format!("{{key: {value}}}"));
    outputs.push(
        s.ctl
            .run(
                &[
                    "config",
                    "set",
                    "web-1",
                    "--openclaw",
                    bad_frag.to_str().unwrap(),
                    "--master-key-file",
                    &s.mk,
                ],
                None,
            )
            .await
            .code(2),
    );
    outputs.push(
        s.ctl
            .run(
                &[
                    "config",
                    "set",
                    "web-1",
                    "--env",
                    value,
                    "--master-key-file",
                    &s.mk,
                ],
                None,
            )
            .await
            .code(2),
    );
    outputs.push(
        s.ctl
            .run(&["env", "set", value, "--agent", "web-1"], Some("x"))
            .await
            .code(2),
    );
    let es = s.es.to_encoded();
    for out in &outputs {
        let all = out.all();
        for needle in [
            value,
            token.as_str(),
            PASSPHRASE,
            crate::common::PASSWORD,
            es.as_str(),
        ] {
            assert!(!all.contains(needle), "a secret reached the output: {all}");
        }
    }
    let got = s.get().await.ok();
    assert!(
        got.stdout.contains(value),
        "config get prints the document it was asked for"
    );
    assert!(!got.stderr.contains(value));
}
