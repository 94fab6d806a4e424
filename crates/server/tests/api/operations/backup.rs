//! `backup` and `restore` on the real binary: a backup taken while agents heartbeat,
//! mode 0600 and never over an existing file; a restore that names the key it needs,
//! refuses an occupied data dir without `--force`, and leaves a database that `audit`
//! passes and a server serves — the agents handshake again and open their configs.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use super::fleet::{open_config, Client, Host};
use super::proc::{args, run, serve, storage};
use crate::common::fixtures::config_document;

const HOSTS: usize = 3;
/// Heartbeats acknowledged before the backup starts (load is running by then).
const WARM: u64 = 10;

fn cmd(head: &[&str], data: &std::path::Path, tail: &[&str]) -> Vec<String> {
    let mut v = args(head);
    v.extend(storage(data, None));
    v.extend(args(tail));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_and_agents_return() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, restored) = (tmp.path().join("live"), tmp.path().join("restored"));
    let file = tmp.path().join("fleet-backup.db");
    let server = serve(&storage(&live, None), &[], &[]).await;
    let fleet = Arc::new(Client::new(&server.base));
    let owner = fleet.owner("ops@example.com", true).await;
    let mut hosts = Vec::new();
    for i in 0..HOSTS {
        hosts.push(Arc::new(fleet.host(&owner, &format!("web-{i}")).await));
    }

    let (stop, acked, warm) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(Notify::new()),
    );
    let mut load = Vec::new();
    for host in &hosts {
        let (fleet, host, stop, acked, warm) = (
            fleet.clone(),
            host.clone(),
            stop.clone(),
            acked.clone(),
            warm.clone(),
        );
        load.push(tokio::spawn(async move {
            let token = fleet.agent_token(&host).await;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(fleet.heartbeat(&host, &token).await, 200);
                if acked.fetch_add(1, Ordering::Relaxed) + 1 == WARM {
                    warm.notify_one();
                }
            }
        }));
    }
    warm.notified().await;
    let made = run(
        &cmd(&["backup"], &live, &["--out", file.to_str().unwrap()]),
        &[],
    )
    .await
    .ok()
    .json();
    assert_eq!(made["agents"], HOSTS as i64, "{made}");
    let key_id = made["key_id"].as_str().expect("key id").to_string();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup is readable by others");
    let size = std::fs::metadata(&file).unwrap().len();
    let again = run(
        &cmd(&["backup"], &live, &["--out", file.to_str().unwrap()]),
        &[],
    )
    .await;
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        size,
        "the backup was touched"
    );
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    // Every first handshake (whose signature the backup holds) signed at or before now.
    let first_handshakes_by = crate::common::wall_clock();
    server.stop().await;

    // No key in the new data dir: refused, naming the key id it needs.
    let from = ["--from", file.to_str().unwrap()];
    let out = run(&cmd(&["restore"], &restored, &from), &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(&key_id) && out.stderr.contains("internal.key"),
        "{}",
        out.stderr
    );
    assert!(!restored.join("fleet.db").exists());
    // Another key: refused.
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::write(restored.join("internal.key"), "ab".repeat(32)).unwrap();
    let out = run(&cmd(&["restore"], &restored, &from), &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains(&key_id), "{}", out.stderr);
    // The key it was made under: restored.
    std::fs::copy(live.join("internal.key"), restored.join("internal.key")).unwrap();
    let done = run(&cmd(&["restore"], &restored, &from), &[])
        .await
        .ok()
        .json();
    assert_eq!(done["key_id"], key_id.as_str());
    let out = run(&cmd(&["restore"], &restored, &from), &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    run(
        &cmd(&["restore"], &restored, &[&from[..], &["--force"]].concat()),
        &[],
    )
    .await
    .ok();
    let audit = run(&cmd(&["audit", "--json"], &restored, &[]), &[])
        .await
        .ok()
        .json();
    assert_eq!(audit["clean"], true, "{audit}");

    // The backup holds the signatures of the hosts' first handshakes (single use, SPEC §2).
    // A fresh client signs at now - 0, now - 1, now - 2 (its skew), so once now is three
    // seconds past the last of those, no signature can repeat one of them.
    while crate::common::wall_clock() < first_handshakes_by + 3 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let server = serve(&storage(&restored, None), &[], &[]).await;
    let fleet = Client::new(&server.base);
    for (i, host) in hosts.iter().enumerate() {
        let (status, answer) = fleet.handshake(host).await;
        assert_eq!(status, 200, "{answer}");
        let doc = open_config(host, &answer["config"]);
        assert_eq!(doc, config_document(&format!("web-{i}")));
        let token = answer["token"].as_str().unwrap();
        assert_eq!(fleet.heartbeat(host, token).await, 200);
    }
    let unknown = Host {
        id: uuid::Uuid::new_v4().to_string(),
        secret: hosts[0].secret.clone(),
        es: openclaw_fleet_protocol::EncryptionSecret::generate(),
    };
    assert_eq!(fleet.handshake(&unknown).await.0, 401);
    server.stop().await;
}

#[tokio::test]
async fn postgres_backups_point_to_pg_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let url = "postgres://postgres@127.0.0.1:5432/unused";
    let mut backup = args(&["backup", "--out"]);
    backup.push(tmp.path().join("x.db").display().to_string());
    backup.extend(storage(tmp.path(), Some(url)));
    let out = run(&backup, &[]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("pg_dump"), "{}", out.stderr);
    assert!(!tmp.path().join("x.db").exists());
    let mut restore = args(&["restore", "--from"]);
    restore.push(tmp.path().join("x.db").display().to_string());
    restore.extend(storage(tmp.path(), Some(url)));
    let out = run(&restore, &[]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("pg_restore"), "{}", out.stderr);
}
