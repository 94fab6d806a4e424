//! The main flow on SQLite and PostgreSQL: log in, list, give an agent an
//! encryption secret, change its config with every kind of edit, the real
//! agent applies what the CLI saved, read it back, log out.

use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::json;

use crate::common::{both_backends, mode, Backend, Ctl, FleetServer, Host, Owner, EMAIL};

both_backends!(an_operator_changes_a_config_that_the_agent_applies);

async fn an_operator_changes_a_config_that_the_agent_applies(backend: Backend) {
    let server = FleetServer::start(backend);
    let url = server.url();
    let mut owner = Owner::register(&url, EMAIL).await;
    owner.set_master_key(crate::common::PASSPHRASE).await;
    let prod = owner.create_fleet("prod").await;
    let (id, agent_secret) = owner.create_agent("web-1", Some(&prod)).await;

    let ctl = Ctl::new();
    let login = ctl.login(&url).await.ok();
    assert!(login.stdout.contains("Logged in"), "{}", login.stdout);
    let session = ctl.config_dir().join("session.json");
    assert_eq!(mode(&session), 0o600);
    assert_eq!(mode(&ctl.config_dir()), 0o700);

    let listed = ctl
        .run(&["--json", "agents", "list", "--fleet", "prod"], None)
        .await
        .ok()
        .json();
    assert_eq!(listed["agents"][0]["id"], id.to_string());
    assert_eq!(listed["agents"][0]["status"], "pending");
    let table = ctl.run(&["agents", "list"], None).await.ok();
    assert!(
        table.stdout.lines().next().unwrap().starts_with("NAME"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("web-1") && table.stdout.contains("prod"),
        "{}",
        table.stdout
    );

    let mk = ctl.passphrase_file();
    let secret_file = ctl.home.path().join("web-1.es");
    ctl.run(
        &[
            "agents",
            "setup-encryption",
            "web-1",
            "--secret-file",
            secret_file.to_str().unwrap(),
            "--master-key-file",
            &mk,
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(mode(&secret_file), 0o600);
    let es_text = std::fs::read_to_string(&secret_file).unwrap();
    let es = EncryptionSecret::parse(es_text.trim()).expect("an ocf_es_ secret");
    let shown = ctl
        .run(&["--json", "agents", "show", "web-1"], None)
        .await
        .ok()
        .json();
    assert_eq!(shown["has_encryption_secret"], true);

    let env_file = ctl.file(
        "prod.env",
        "# provider keys\nOPENAI_API_KEY='sk-proj-from-file'\nexport REGION=eu # note\n",
    );
    let fragment = ctl.file(
        "frag.json5",
        "{agents: {defaults: {model: 'claude-sonnet'}}, // json5\n gateway: {port: 18789,},}",
    );
    let set = ctl
        .run(
            &[
                "config",
                "set",
                "web-1",
                "--env",
                "LOG_LEVEL=debug",
                "--env-file",
                env_file.to_str().unwrap(),
                "--openclaw",
                fragment.to_str().unwrap(),
                "--master-key-file",
                "-",
            ],
            Some(&format!("{}\n", crate::common::PASSPHRASE)),
        )
        .await
        .ok();
    assert!(
        set.stdout.contains("saved config version 1"),
        "{}",
        set.stdout
    );
    let (version, doc) = owner.stored_doc(&id, &es).await;
    assert_eq!(version, 1);
    assert_eq!(
        doc,
        json!({"schema": 1,
               "env": {"LOG_LEVEL": "debug", "OPENAI_API_KEY": "sk-proj-from-file", "REGION": "eu"},
               "openclaw": {"agents": {"defaults": {"model": "claude-sonnet"}}, "gateway": {"port": 18789}}})
    );

    let host = Host::new(&url, &id, &agent_secret, secret_file.clone());
    let agent_out = host.run_once().await;
    assert!(!agent_out.contains("sk-proj-from-file"));
    let env = host.read(".env");
    assert!(
        env.contains("OPENAI_API_KEY='sk-proj-from-file'") && env.contains("LOG_LEVEL='debug'"),
        "{env}"
    );
    let oc: serde_json::Value = serde_json::from_str(&host.read("openclaw.json")).unwrap();
    assert_eq!(oc["agents"]["defaults"]["model"], "claude-sonnet");
    assert_eq!(owner.agent(&id).await["config_version_applied"], 1);

    // Rotate the key through standard input, drop a variable, remove a key.
    let rotated = ctl
        .run(
            &[
                "env",
                "set",
                "OPENAI_API_KEY",
                "--agent",
                &id.to_string(),
                "--master-key-file",
                &mk,
            ],
            Some("sk-proj-rotated\n"),
        )
        .await
        .ok();
    assert!(rotated.stdout.contains("version 2"), "{}", rotated.stdout);
    let null_frag = ctl.file("drop.json", "{\"gateway\": null}");
    ctl.run(
        &[
            "--json",
            "config",
            "set",
            &id.to_string(),
            "--unset",
            "REGION",
            "--openclaw",
            null_frag.to_str().unwrap(),
            "--master-key-file",
            &mk,
        ],
        None,
    )
    .await
    .ok();
    host.run_once().await;
    let env = host.read(".env");
    assert!(
        env.contains("OPENAI_API_KEY='sk-proj-rotated'") && !env.contains("REGION"),
        "{env}"
    );
    let oc: serde_json::Value = serde_json::from_str(&host.read("openclaw.json")).unwrap();
    assert!(oc.get("gateway").is_none(), "{oc}");
    assert_eq!(owner.agent(&id).await["config_version_applied"], 3);

    let got = ctl
        .run(&["config", "get", "web-1", "--master-key-file", &mk], None)
        .await
        .ok();
    let doc: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(
        doc["env"],
        json!({"LOG_LEVEL": "debug", "OPENAI_API_KEY": "sk-proj-rotated"})
    );
    assert_eq!(
        doc["openclaw"],
        json!({"agents": {"defaults": {"model": "claude-sonnet"}}})
    );
    let again = ctl
        .run(
            &[
                "--json",
                "config",
                "set",
                "web-1",
                "--env",
                "LOG_LEVEL=debug",
                "--master-key-file",
                &mk,
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(again["result"], "unchanged");
    assert_eq!(again["version"], 3);

    let token = ctl_token(&ctl);
    let out = ctl.run(&["logout"], None).await.ok();
    assert!(out.stdout.contains("Logged out"));
    assert!(!session.exists());
    let (status, _) = owner
        .with_token(&token)
        .call(reqwest::Method::GET, "/api/me", None)
        .await;
    assert_eq!(status, 401, "the session ended on the server");
    ctl.run(&["agents", "list"], None).await.code(3);
}

/// The token the CLI stored (read by the test, never printed by the CLI).
pub fn ctl_token(ctl: &Ctl) -> String {
    let text = std::fs::read_to_string(ctl.config_dir().join("session.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["token"].as_str().unwrap().to_owned()
}
