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
    let app = TestApp::spawn(b).await;
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
    let total = 2 * WITH_CONFIG + 1;

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
    let stopped = app.stop().await;

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
    let refused = Server::build(stopped.settings.clone(), None)
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

    let app = TestApp::restart(&stopped).await;
    for (agent, es, i) in &hosts {
        let r = app.handshake_now(agent).await.ok(200);
        let env = Envelope::parse(&r.json["config"]).expect("an envelope");
        let plain = env
            .open(es, &AgentId::parse(&agent.id).unwrap())
            .expect("opens");
        let doc: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(doc, config_document(&format!("h{i}")));
    }
    let stopped = app.stop().await;
    let dropped = run(&rotate(&["--drop-retired"]), &[]).await.ok().json();
    assert_eq!(dropped["dropped"], old_id.as_str(), "{dropped}");
    assert!(!dir.join("internal.key.retired").exists());
    drop(stopped);
}
