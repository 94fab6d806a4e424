//! `rotate-internal-key` on the real binary, on both backends: refused while a server
//! runs; an interrupted pass (`--limit`) leaves servers refusing to start and is finished
//! by running it again, which skips what is done; afterwards `audit` is clean, no value
//! names the old key id, a server starts with the new key, the agents handshake and open
//! their configs, and the retired key can be dropped.

use std::os::unix::fs::PermissionsExt;

use openclaw_fleet::crypto::internal_key::read_key_file;
use openclaw_fleet::Server;
use openclaw_fleet_protocol::{AgentId, EncryptionSecret, Envelope};
use serde_json::json;

use super::proc::{args, run, storage};
use crate::common::fixtures::{config_document, envelope};
use crate::common::{Backend, TestApp};

both_backends!(rotation_reseals_everything_and_survives_interruption);

const WITH_CONFIG: usize = 3;

async fn rotation_reseals_everything_and_survives_interruption(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let mut hosts = Vec::new();
    for i in 0..WITH_CONFIG {
        let agent = app.agent(&owner, &format!("h{i}")).await;
        let es = EncryptionSecret::generate();
        let env = envelope(&es, &agent.id, 1, &config_document(&format!("h{i}")));
        app.put(
            &format!("/api/agents/{}/config", agent.id),
            &owner.token,
            &json!({"config": env}),
        )
        .await
        .ok(200);
        hosts.push((agent, es, i));
    }
    app.agent(&owner, "no-config").await;
    // Each agent's secret, each config and its one kept version in the history.
    let total = 3 * WITH_CONFIG + 1;

    let settings = app.settings().clone();
    let dir = settings.data_dir.clone();
    let store = storage(&dir, settings.database_url.as_deref());
    let rotate =
        |extra: &[&str]| [args(&["rotate-internal-key"]), store.clone(), args(extra)].concat();
    let old_id = read_key_file(&dir.join("internal.key"))
        .unwrap()
        .id()
        .to_string();

    let out = run(&rotate(&[]), &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("server is running"), "{}", out.stderr);
    app.stop().await;

    let first = run(&rotate(&["--limit", "3", "--batch-size", "2"]), &[])
        .await
        .ok()
        .json();
    assert_eq!(first["done"], false, "{first}");
    assert_eq!(first["resealed"], 3);
    assert_eq!(first["remaining"], total - 3);
    let next = dir.join("internal.key.next");
    assert_eq!(
        std::fs::metadata(&next).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let new_id = read_key_file(&next).unwrap().id().to_string();
    assert_eq!(first["rotating_to"], new_id.as_str());
    let refused = Server::build(settings.clone(), None)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{refused:#}").contains("rotate-internal-key"),
        "{refused:#}"
    );

    let second = run(&rotate(&[]), &[]).await.ok().json();
    assert_eq!(second["done"], true, "{second}");
    assert_eq!(second["resealed"], total - 3);
    assert_eq!(second["key_id"], new_id.as_str());
    assert_eq!(second["retired_key_id"], old_id.as_str());
    assert!(!next.exists());
    assert_eq!(
        read_key_file(&dir.join("internal.key")).unwrap().id(),
        new_id
    );
    assert_eq!(
        read_key_file(&dir.join("internal.key.retired"))
            .unwrap()
            .id(),
        old_id
    );

    let audit = run(&[args(&["audit", "--json"]), store.clone()].concat(), &[])
        .await
        .ok()
        .json();
    assert_eq!(audit["clean"], true, "{audit}");
    let db = openclaw_fleet::store::connect(&settings.database_url())
        .await
        .unwrap();
    let cells = db.text_cells().await.unwrap();
    let sealed: Vec<_> = cells
        .iter()
        .filter(|c| c.value.starts_with("ocf1."))
        .collect();
    assert_eq!(sealed.len(), total);
    for c in &sealed {
        assert!(
            c.value.starts_with(&format!("ocf1.{new_id}.")),
            "{}.{} of {} is under another key",
            c.table,
            c.column,
            c.row
        );
    }
    assert!(cells
        .iter()
        .all(|c| !c.value.contains(&old_id) || c.table == "meta"));

    let third = run(&rotate(&[]), &[]).await.ok().json();
    assert_eq!(
        (third["done"].clone(), third["resealed"].clone()),
        (json!(true), json!(0)),
        "{third}"
    );

    let mut app = app.restart().await;
    for (agent, es, i) in &hosts {
        let r = app.handshake_now(agent).await.ok(200);
        let env = Envelope::parse(&r.json["config"]).expect("an envelope");
        let plain = env
            .open(es, &AgentId::parse(&agent.id).unwrap())
            .expect("opens");
        let doc: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(doc, config_document(&format!("h{i}")));
    }
    app.stop().await;
    let dropped = run(&rotate(&["--drop-retired"]), &[]).await.ok().json();
    assert_eq!(dropped["dropped"], old_id.as_str(), "{dropped}");
    assert!(!dir.join("internal.key.retired").exists());
}

/// A key given by `INTERNAL_ENCRYPTION_KEY` is the operator's to swap: the rotation
/// needs `--new-key-file`, writes the new key there (mode 0600) and touches nothing in the
/// data dir; afterwards the old key is refused and the new one serves the agents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_of_a_key_from_the_environment_writes_the_new_key_file() {
    use super::fleet::{open_config, Client};
    use super::proc::serve;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let store = storage(&dir, None);
    let old_key = hex::encode(crate::common::fixtures::random_bytes::<32>());
    let env_old = [("INTERNAL_ENCRYPTION_KEY", old_key.as_str())];
    let server = serve(&store, &[], &env_old).await;
    let fleet = Client::new(&server.base);
    let owner = fleet.owner("ops@example.com", true).await;
    let host = fleet.host(&owner, "env-1").await;
    server.stop().await;
    assert!(!dir.join("internal.key").exists());

    let rotate =
        |extra: &[&str]| [args(&["rotate-internal-key"]), store.clone(), args(extra)].concat();
    let out = run(&rotate(&[]), &env_old).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("--new-key-file"), "{}", out.stderr);
    let new_file = tmp.path().join("new.key");
    let new_path = new_file.to_str().unwrap();
    let done = run(&rotate(&["--new-key-file", new_path]), &env_old)
        .await
        .ok()
        .json();
    assert_eq!(done["done"], true, "{done}");
    assert_eq!(done["resealed"], 3);
    assert_eq!(
        std::fs::metadata(&new_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let new_id = read_key_file(&new_file).unwrap().id().to_string();
    assert_eq!(done["key_id"], new_id.as_str());
    for name in ["internal.key", "internal.key.next", "internal.key.retired"] {
        assert!(!dir.join(name).exists(), "{name} was written");
    }

    let mut serve_args = args(&["serve", "--listen", "127.0.0.1:0"]);
    serve_args.extend(store.clone());
    let refused = run(&serve_args, &env_old).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains(&new_id), "{}", refused.stderr);
    let env_new = [("INTERNAL_ENCRYPTION_KEY_FILE", new_path)];
    let again = run(&rotate(&["--new-key-file", new_path]), &env_new)
        .await
        .ok()
        .json();
    assert_eq!(
        (again["done"].clone(), again["resealed"].clone()),
        (json!(true), json!(0)),
        "{again}"
    );
    let server = serve(&store, &[], &env_new).await;
    let fleet = fleet.moved_to(&server.base);
    let (status, answer) = fleet.handshake(&host).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        open_config(&host, &answer["config"]),
        config_document("env-1")
    );
    server.stop().await;
}
