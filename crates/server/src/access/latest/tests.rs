//! [`Latest::read_merged`]: an acknowledged heartbeat is never shown older than it is,
//! even when a flush commits (and forgets the state it wrote) while the read runs.

use std::sync::Mutex;

use super::*;

fn agent(id: &str) -> AgentRow {
    AgentRow {
        id: id.into(),
        owner_id: "owner".into(),
        fleet_id: None,
        name: id.into(),
        policy_profile: "exec".into(),
        gateway_url: None,
        heartbeat_interval: 60,
        secret_sealed: None,
        secret_last_used_at: None,
        plaintext_secret_seen_at: None,
        wrapped_secret: None,
        config_sealed: None,
        config_version: 0,
        status: Some("pending".into()),
        last_seen: None,
        metrics: None,
        agent_version: None,
        config_version_applied: None,
        last_error: None,
        created_at: 0,
        config_delivery: None,
        identity: "hmac".into(),
        public_key: None,
        enrolled_at: None,
        name_fold: id.into(),
        seen_key: 0,
    }
}

/// One heartbeat of `row`'s agent at `ts`, kept in `latest` as the server keeps it.
fn heartbeat(latest: &Latest, row: &AgentRow, ts: i64) {
    let id: Arc<str> = row.id.as_str().into();
    let record = HeartbeatRecord {
        agent_id: id.clone(),
        ts,
        status: "idle",
        metrics_json: r#"{"cpu_usage":1.0}"#.into(),
        agent_version: Some("1.2.3".into()),
        config_version_applied: None,
        error: None,
        machine_id: None,
        location: None,
        model: None,
        config_delivery: None,
    };
    let sample = HeartbeatSample {
        agent_id: id,
        ts,
        cpu_usage: Some(1.0),
        memory_usage: None,
        disk_usage: None,
        latency_ms: None,
    };
    assert!(latest
        .record(&Arc::new(row.clone()), record, sample)
        .is_ok());
}

/// A flush through the buffer's own steps, with `db` as the table it writes.
fn flush_into(latest: &Latest, db: &Mutex<AgentRow>) {
    let (in_flight, samples) = latest.begin_flush();
    for e in in_flight.values() {
        apply(&e.record, &mut db.lock().unwrap());
    }
    assert_eq!(
        latest.end_flush(in_flight, samples, Ok(())).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_read_overtaken_by_a_flush_is_done_again() {
    let latest = Latest::new(16);
    let db = Mutex::new(agent("a1"));
    heartbeat(&latest, &db.lock().unwrap(), 100);
    let reads = Mutex::new(0);
    let row = latest
        .read_merged(
            || {
                *reads.lock().unwrap() += 1;
                // The read sees the table before the flush; the flush commits before
                // the read's rows are merged (the first time only).
                let seen = db.lock().unwrap().clone();
                if *reads.lock().unwrap() == 1 {
                    flush_into(&latest, &db);
                }
                async move { Ok::<_, ()>(Some(seen)) }
            },
            Option::as_mut_slice,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*reads.lock().unwrap(), 2, "the overtaken read runs again");
    assert_eq!(row.status.as_deref(), Some("idle"));
    assert_eq!(row.last_seen, Some(100));
    assert_eq!(row.agent_version.as_deref(), Some("1.2.3"));
}

#[tokio::test]
async fn a_read_no_flush_overtook_merges_what_is_held() {
    let latest = Latest::new(16);
    let stored = agent("a1");
    heartbeat(&latest, &stored, 100);
    let reads = Mutex::new(0);
    let rows = latest
        .read_merged(
            || {
                *reads.lock().unwrap() += 1;
                let seen = vec![stored.clone(), agent("a2")];
                async move { Ok::<_, ()>(seen) }
            },
            Vec::as_mut_slice,
        )
        .await
        .unwrap();
    assert_eq!(*reads.lock().unwrap(), 1);
    assert_eq!(
        rows[0].status.as_deref(),
        Some("idle"),
        "newer than the table"
    );
    assert_eq!(rows[0].last_seen, Some(100));
    assert_eq!(
        rows[1].status.as_deref(),
        Some("pending"),
        "not one of ours"
    );
}

#[tokio::test]
async fn a_secrets_last_use_is_shown_only_while_the_agent_has_that_secret() {
    let latest = Latest::new(16);
    let mut stored = agent("a1");
    stored.secret_sealed = Some("sealed-1".into());
    latest.secret_used(&stored, 100);
    // An older use does not move it back.
    latest.secret_used(&stored, 90);
    let read = |row: AgentRow| {
        let latest = &latest;
        async move {
            latest
                .read_merged(
                    || {
                        let row = row.clone();
                        async move { Ok::<_, ()>(Some(row)) }
                    },
                    Option::as_mut_slice,
                )
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(read(stored.clone()).await.secret_last_used_at, Some(100));
    // Rotated since (the row holds another secret, never used): not shown.
    let mut rotated = stored.clone();
    rotated.secret_sealed = Some("sealed-2".into());
    assert_eq!(read(rotated).await.secret_last_used_at, None);
    // The table already has a later use: kept.
    let mut later = stored.clone();
    later.secret_last_used_at = Some(120);
    assert_eq!(read(later).await.secret_last_used_at, Some(120));
}

#[test]
fn one_sample_is_queued_an_agent_and_second() {
    let latest = Latest::new(16);
    let (a1, a2) = (agent("a1"), agent("a2"));
    for ts in [100, 100, 100, 101, 101] {
        heartbeat(&latest, &a1, ts);
    }
    heartbeat(&latest, &a2, 100);
    let (_, samples) = latest.begin_flush();
    let queued: Vec<(&str, i64)> = samples.iter().map(|s| (&*s.agent_id, s.ts)).collect();
    assert_eq!(queued, [("a1", 100), ("a1", 101), ("a2", 100)]);
    assert_eq!(latest.dropped(), 0);
}
