//! Fleet-wide changes: every agent of the fleet, one result each, a non-zero
//! exit when any agent was not changed, and nothing outside the fleet touched.

use openclaw_fleet_protocol::WrapKey;
use serde_json::{json, Value};

use crate::common::{both_backends, Backend, Ctl, FleetServer, Owner, EMAIL, PASSPHRASE};

both_backends!(a_fleet_wide_change_reports_each_agent);

fn result_of<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result for {name}: {out}"))
}

async fn a_fleet_wide_change_reports_each_agent(backend: Backend) {
    let server = FleetServer::start(backend);
    let mut owner = Owner::register(&server.url(), EMAIL).await;
    owner.set_master_key(PASSPHRASE).await;
    let prod = owner.create_fleet("prod").await;
    let dev = owner.create_fleet("dev").await;
    let (a1, _) = owner.create_agent("a1", Some(&prod)).await;
    let es1 = owner.give_secret(&a1).await;
    let (a2, _) = owner.create_agent("a2", Some(&prod)).await;
    let es2 = owner.give_secret(&a2).await;
    owner
        .save(
            &a2,
            &es2,
            1,
            &json!({"schema": 1, "env": {"OTHER": "kept"}, "openclaw": {"x": 1}}),
        )
        .await;
    let (_a3, _) = owner.create_agent("a3-no-secret", Some(&prod)).await;
    // Wrapped under a key that is not the owner's: it cannot be unwrapped.
    let (a4, _) = owner.create_agent("a4-foreign-wrap", Some(&prod)).await;
    let stranger = WrapKey::from_bytes(rand::random());
    let real = owner.wrap.replace(stranger);
    owner.give_secret(&a4).await;
    owner.wrap = real;
    let (d1, _) = owner.create_agent("d1", Some(&dev)).await;
    let esd = owner.give_secret(&d1).await;

    let ctl = Ctl::new();
    ctl.login(&server.url()).await.ok();
    let mk = ctl.passphrase_file();
    let env = ctl.file("keys.env", "ANTHROPIC_API_KEY=sk-ant-fleet-1\n");
    let out = ctl
        .run(
            &[
                "--json",
                "config",
                "apply",
                "--fleet",
                "prod",
                "--env-file",
                env.to_str().unwrap(),
                "--concurrency",
                "2",
                "--master-key-file",
                &mk,
            ],
            None,
        )
        .await
        .code(1)
        .json();
    assert_eq!(out["fleet"]["name"], "prod");
    assert_eq!(out["results"].as_array().unwrap().len(), 4);
    assert_eq!(
        (out["applied"].as_u64(), out["failed"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(result_of(&out, "a1")["result"], "applied");
    assert_eq!(result_of(&out, "a1")["version"], 1);
    assert_eq!(result_of(&out, "a2")["version"], 2);
    assert_eq!(
        result_of(&out, "a3-no-secret")["result"],
        "no_encryption_secret"
    );
    assert_eq!(result_of(&out, "a4-foreign-wrap")["result"], "refused");
    let (_, d2) = owner.stored_doc(&a2, &es2).await;
    assert_eq!(
        d2,
        json!({"schema": 1, "env": {"OTHER": "kept", "ANTHROPIC_API_KEY": "sk-ant-fleet-1"}, "openclaw": {"x": 1}})
    );
    assert_eq!(
        owner.agent(&d1).await["config_version"],
        0,
        "another fleet is untouched"
    );

    // Rotation from standard input: the table names every agent.
    let rotated = ctl
        .run(
            &[
                "env",
                "set",
                "ANTHROPIC_API_KEY",
                "--fleet",
                "prod",
                "--master-key-file",
                &mk,
            ],
            Some("sk-ant-fleet-2\n"),
        )
        .await
        .code(1);
    for name in ["a1", "a2", "a3-no-secret", "a4-foreign-wrap"] {
        assert!(rotated.stdout.contains(name), "{}", rotated.stdout);
    }
    assert!(
        rotated
            .stdout
            .contains("2 applied, 0 unchanged, 2 failed (of 4)"),
        "{}",
        rotated.stdout
    );
    assert!(!rotated.all().contains("sk-ant-fleet-2"));
    for (id, es) in [(&a1, &es1), (&a2, &es2)] {
        assert_eq!(
            owner.stored_doc(id, es).await.1["env"]["ANTHROPIC_API_KEY"],
            "sk-ant-fleet-2"
        );
    }

    // A fleet where every agent can be changed exits 0; a repeat changes nothing.
    let all_ok = ctl
        .run(
            &[
                "--json",
                "env",
                "set",
                "ANTHROPIC_API_KEY",
                "--fleet",
                "dev",
                "--master-key-file",
                &mk,
            ],
            Some("sk-ant-dev"),
        )
        .await
        .ok()
        .json();
    assert_eq!(all_ok["applied"], 1);
    let again = ctl
        .run(
            &[
                "--json",
                "env",
                "set",
                "ANTHROPIC_API_KEY",
                "--fleet",
                "dev",
                "--master-key-file",
                &mk,
            ],
            Some("sk-ant-dev"),
        )
        .await
        .ok()
        .json();
    assert_eq!(again["unchanged"], 1);
    assert_eq!(owner.stored_doc(&d1, &esd).await.0, 1);
    ctl.run(
        &[
            "env",
            "unset",
            "ANTHROPIC_API_KEY",
            "--fleet",
            "dev",
            "--master-key-file",
            &mk,
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(owner.stored_doc(&d1, &esd).await.1["env"], json!({}));
    ctl.run(
        &[
            "config",
            "apply",
            "--fleet",
            "nope",
            "--env",
            "A=1",
            "--master-key-file",
            &mk,
        ],
        None,
    )
    .await
    .code(4);
}
