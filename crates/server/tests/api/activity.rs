//! The owner's activity log (`GET /api/activity`): every recorded action appears once,
//! with who did it and from where, and never a value (the whole table is searched for
//! the secrets, tokens, passwords and config content the flow used); refused changes add
//! nothing; another owner's entries do not exist for anyone else; failed sign-ins are
//! coalesced (a brute force adds a bounded number of rows); pages are keyed by id; old
//! entries are pruned by the housekeeping task's retention.

use std::time::Duration;

use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::common::fixtures::{config_document, envelope, kdf, signed, Wrap};
use crate::common::{Agent, Backend, Owner, TestApp, PASSWORD};

both_backends!(
    each_action_is_recorded_without_a_value,
    another_owners_activity_is_invisible,
    failed_sign_ins_are_coalesced,
    pages_are_keyed_by_id,
    retention_prunes_old_entries,
);

const NEW_PASSWORD: &str = "a new and longer passphrase";
const WRONG_PASSWORD: &str = "wrong-password-9d41c";
const MARKER: &str = "activity-marker-5e0b";

async fn page(app: &TestApp, o: &Owner, query: &str) -> Value {
    app.get(&format!("/api/activity{query}"), &o.token)
        .await
        .ok(200)
        .json
}

/// Every entry of the owner, newest first.
async fn entries(app: &TestApp, o: &Owner) -> Vec<Value> {
    page(app, o, "?limit=200").await["entries"]
        .as_array()
        .expect("entries")
        .clone()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .rev()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect()
}

/// Waits for a queued entry (failed sign-ins and plaintext sightings are written by a
/// background task, so the answer never waits for them) to reach `count`.
async fn wait_for(app: &TestApp, o: &Owner, action: &str, count: i64) -> Value {
    for _ in 0..200 {
        let all = entries(app, o).await;
        let total: i64 = all
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["count"].as_i64().unwrap())
            .sum();
        if total >= count {
            return all.into_iter().find(|e| e["action"] == action).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {count} × {action} in the activity log");
}

/// Every cell of the activity table, as text.
async fn activity_dump(app: &TestApp) -> String {
    let sql = "SELECT CAST(id AS TEXT) || '|' || owner_id || '|' || CAST(ts AS TEXT) || '|' \
        || CAST(last_ts AS TEXT) || '|' || CAST(count AS TEXT) || '|' || action || '|' \
        || COALESCE(object_kind, '') || '|' || COALESCE(object_id, '') || '|' \
        || COALESCE(object_name, '') || '|' || COALESCE(detail, '') || '|' || actor_kind \
        || '|' || COALESCE(actor_id, '') || '|' || COALESCE(client_addr, '') FROM activity";
    let url = app.settings().database_url();
    let rows: Vec<String> = if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    };
    assert!(!rows.is_empty(), "the activity table is empty");
    rows.join("\n")
}

async fn save(app: &TestApp, o: &Owner, a: &Agent, body: Value) -> u16 {
    app.put(&format!("/api/agents/{}/config", a.id), &o.token, &body)
        .await
        .status
        .as_u16()
}

async fn each_action_is_recorded_without_a_value(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let session = app.get("/api/me", &o.token).await.ok(200).json["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.login(&o.email, WRONG_PASSWORD)
        .await
        .err(401, "invalid_credentials");
    wait_for(&app, &o, "sign_in_failed", 1).await;
    // A wrong password for an account nobody has is recorded nowhere.
    app.login("nobody@example.com", WRONG_PASSWORD)
        .await
        .err(401, "invalid_credentials");

    let wrap = Wrap::new();
    let key_check = wrap.key_check(&o.id);
    app.put(
        "/api/me/master-key",
        &o.token,
        &json!({"kdf": kdf(600_000), "key_check": key_check}),
    )
    .await
    .ok(200);
    let a = app.agent(&o, "web-1").await;
    app.patch(
        &format!("/api/agents/{}", a.id),
        &o.token,
        &json!({"name": "web-2", "gateway_url": "https://gw-value.example.com"}),
    )
    .await
    .ok(200);
    let es = EncryptionSecret::generate();
    let v1 = envelope(&es, &a.id, 1, &config_document(MARKER));
    assert_eq!(save(&app, &o, &a, json!({"config": v1})).await, 200);
    let v2 = envelope(&es, &a.id, 2, &config_document(MARKER));
    let restore = json!({"config": v2, "restored_from": 1});
    assert_eq!(save(&app, &o, &a, restore).await, 200);
    let rotated = app.rotate_secret(&o, &a).await;
    app.clock.advance(1);
    let mut leaky = signed(&a.id, &rotated, app.now());
    leaky["agent_secret"] = json!(rotated);
    app.handshake(&leaky)
        .await
        .err(400, "plaintext_secret_rejected");
    wait_for(&app, &o, "plaintext_secret_seen", 1).await;
    let new_wrap = Wrap::new();
    let new_check = new_wrap.key_check(&o.id);
    app.put(
        "/api/me/master-key",
        &o.token,
        &json!({"kdf": kdf(700_000), "key_check": new_check, "password": PASSWORD}),
    )
    .await
    .ok(200);
    app.post(
        "/api/me/password",
        &o.token,
        &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await
    .ok(200);
    let second = app.login(&o.email, NEW_PASSWORD).await.ok(200).json;
    let second_token = second["token"].as_str().unwrap().to_string();
    let second_id = app.get("/api/me", &second_token).await.ok(200).json["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/api/me/sessions/{second_id}"), &o.token)
        .await
        .ok(204);
    app.post("/api/auth/logout", &o.token, &json!({}))
        .await
        .ok(204);
    let third = app.login(&o.email, NEW_PASSWORD).await.ok(200).json;
    let o = Owner {
        id: o.id.clone(),
        email: o.email.clone(),
        token: third["token"].as_str().unwrap().to_string(),
    };
    app.delete(&format!("/api/agents/{}", a.id), &o.token)
        .await
        .ok(204);

    let before = entries(&app, &o).await;
    // Refused changes record nothing: a stale config version, a key change with a wrong
    // password, an edit or deletion of an agent that does not exist, a stranger's session.
    let b2 = app.agent(&o, "b").await;
    let stale = envelope(&es, &b2.id, 2, &config_document(MARKER));
    assert_eq!(save(&app, &o, &b2, json!({"config": stale})).await, 409);
    app.put(
        "/api/me/master-key",
        &o.token,
        &json!({"kdf": kdf(700_000), "key_check": new_wrap.key_check(&o.id), "password": WRONG_PASSWORD}),
    )
    .await
    .err(403, "wrong_password");
    app.patch(
        &format!("/api/agents/{}", a.id),
        &o.token,
        &json!({"name": "x"}),
    )
    .await
    .err(404, "not_found");
    app.delete(&format!("/api/agents/{}", a.id), &o.token)
        .await
        .err(404, "not_found");
    app.delete(&format!("/api/me/sessions/{}", uuid_like()), &o.token)
        .await
        .err(404, "not_found");
    let after = entries(&app, &o).await;
    assert_eq!(
        after.len(),
        before.len() + 1,
        "only the new agent was added"
    );
    assert_eq!(after[0]["action"], "agent_created");

    assert_eq!(
        actions(&before),
        [
            "sign_in",
            "sign_in_failed",
            "master_key_set",
            "agent_created",
            "agent_edited",
            "config_saved",
            "config_saved",
            "secret_rotated",
            "plaintext_secret_seen",
            "master_key_changed",
            "password_changed",
            "sign_in",
            "session_ended",
            "sign_out",
            "sign_in",
            "agent_deleted",
        ]
    );
    let by = |action: &str, nth: usize| -> Value {
        before
            .iter()
            .rev()
            .filter(|e| e["action"] == action)
            .nth(nth)
            .unwrap_or_else(|| panic!("no {action} #{nth}"))
            .clone()
    };
    let first_sign_in = by("sign_in", 0);
    assert_eq!(first_sign_in["object_kind"], "session");
    assert_eq!(first_sign_in["object_id"], session.as_str());
    assert_eq!(first_sign_in["actor_kind"], "session");
    assert_eq!(first_sign_in["client_addr"], "127.0.0.1");
    let failed = by("sign_in_failed", 0);
    assert_eq!(failed["count"], 1);
    assert_eq!(failed["actor_kind"], "anonymous");
    assert_eq!(failed["client_addr"], "127.0.0.1");
    let created = by("agent_created", 0);
    assert_eq!(created["object_kind"], "agent");
    assert_eq!(created["object_id"], a.id.as_str());
    assert_eq!(created["object_name"], "web-1");
    assert_eq!(created["actor_kind"], "session");
    assert_eq!(created["actor_id"], session.as_str());
    assert_eq!(created["client_addr"], "127.0.0.1");
    let edited = by("agent_edited", 0);
    assert_eq!(edited["object_name"], "web-2");
    assert_eq!(edited["detail"], json!({"fields": ["name", "gateway_url"]}));
    assert_eq!(by("config_saved", 0)["detail"], json!({"version": 1}));
    assert_eq!(
        by("config_saved", 1)["detail"],
        json!({"version": 2, "restored_from": 1})
    );
    let seen = by("plaintext_secret_seen", 0);
    assert_eq!(seen["actor_kind"], "agent");
    assert_eq!(seen["actor_id"], a.id.as_str());
    assert_eq!(seen["object_id"], a.id.as_str());
    assert_eq!(by("master_key_set", 0)["detail"], Value::Null);
    assert_eq!(
        by("master_key_changed", 0)["detail"],
        json!({"rewrapped": 0})
    );
    assert_eq!(
        by("password_changed", 0)["detail"],
        json!({"sessions_ended": 0})
    );
    assert_eq!(by("session_ended", 0)["object_id"], second_id.as_str());
    assert_eq!(by("session_ended", 0)["actor_id"], session.as_str());
    assert_eq!(by("sign_out", 0)["object_id"], session.as_str());
    let deleted = by("agent_deleted", 0);
    assert_eq!(deleted["object_id"], a.id.as_str());
    assert_eq!(deleted["object_name"], "web-2");
    // The agent's entries, and only those, by object.
    let about = page(&app, &o, &format!("?object_id={}", a.id)).await;
    let about: Vec<Value> = about["entries"].as_array().unwrap().clone();
    assert_eq!(
        actions(&about),
        [
            "agent_created",
            "agent_edited",
            "config_saved",
            "config_saved",
            "secret_rotated",
            "plaintext_secret_seen",
            "agent_deleted",
        ]
    );

    // Never a value, in any column of any row; and the audit, which checks the table's
    // text and that every detail holds only names and numbers, finds nothing.
    let (_, findings) = app.state.audit().await.expect("audit runs");
    assert!(findings.is_empty(), "audit findings: {findings:?}");
    let dump = activity_dump(&app).await;
    assert!(dump.contains("agent_deleted") && dump.contains(&a.id));
    let secret_text = |v: &Value| v.to_string();
    for (what, value) in [
        ("the account password", PASSWORD.to_string()),
        ("the new password", NEW_PASSWORD.to_string()),
        ("the wrong password", WRONG_PASSWORD.to_string()),
        ("the agent secret", a.secret.clone()),
        ("the rotated secret", rotated.clone()),
        ("a session token", second_token.clone()),
        ("a session token", o.token.clone()),
        ("the config marker", MARKER.to_string()),
        ("the ENCRYPTION_SECRET", es.to_encoded().to_string()),
        ("the envelope", v1["ct"].as_str().unwrap().to_string()),
        ("the key check", secret_text(&key_check["ct"])),
        ("the new key check", secret_text(&new_check["ct"])),
        ("the gateway URL", "gw-value".to_string()),
        ("a secret prefix", "ocf_".to_string()),
    ] {
        let value = value.trim_matches('"').to_string();
        assert!(!dump.contains(&value), "the activity table holds {what}");
    }
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

async fn another_owners_activity_is_invisible(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.first_owner().await;
    let mallory = app.other_owner("mallory@example.com").await;
    let hers = app.agent(&alice, "hers").await;
    app.patch(
        &format!("/api/agents/{}", hers.id),
        &alice.token,
        &json!({"name": "hers-2"}),
    )
    .await
    .ok(200);
    // Mallory's attempts on Alice's agent change nothing and record nothing.
    app.patch(
        &format!("/api/agents/{}", hers.id),
        &mallory.token,
        &json!({"name": "mine"}),
    )
    .await
    .err(404, "not_found");
    app.delete(&format!("/api/agents/{}", hers.id), &mallory.token)
        .await
        .err(404, "not_found");
    app.post(
        &format!("/api/agents/{}/rotate-secret", hers.id),
        &mallory.token,
        &json!({}),
    )
    .await
    .err(404, "not_found");

    let mine = entries(&app, &mallory).await;
    assert_eq!(actions(&mine), ["sign_in"], "Mallory sees only her own");
    let by_object = page(&app, &mallory, &format!("?object_id={}", hers.id)).await;
    assert_eq!(by_object, json!({"entries": [], "next_before": null}));
    // Paging past Alice's ids finds nothing of hers either.
    let newest_of_alice = entries(&app, &alice).await[0]["id"].as_i64().unwrap();
    let past = page(&app, &mallory, &format!("?before={}", newest_of_alice + 1)).await;
    assert_eq!(actions(past["entries"].as_array().unwrap()), ["sign_in"]);
    assert_eq!(
        actions(&entries(&app, &alice).await),
        ["sign_in", "agent_created", "agent_edited"]
    );
    // Without a session: 401. Bad queries: 400, nothing read.
    app.get("/api/activity", "").await.err(401, "unauthorized");
    for bad in [
        "?limit=0",
        "?limit=201",
        "?before=0",
        "?before=x",
        "?object_id=not-a-uuid",
        "?owner_id=x",
    ] {
        app.get(&format!("/api/activity{bad}"), &mallory.token)
            .await
            .err(400, "invalid_request");
    }
}

async fn failed_sign_ins_are_coalesced(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    // 100 wrong passwords from one address, spread so the rate limit (5 per account and
    // address per 15 minutes) lets each one be checked; the refused extra attempt of each
    // round (429) is not checked and not recorded.
    for _ in 0..20 {
        for _ in 0..5 {
            app.login(&o.email, WRONG_PASSWORD)
                .await
                .err(401, "invalid_credentials");
        }
        app.login(&o.email, WRONG_PASSWORD)
            .await
            .err(429, "rate_limited");
        app.clock.advance(15 * 60 + 1);
    }
    let o = Owner {
        token: app.login(&o.email, PASSWORD).await.ok(200).json["token"]
            .as_str()
            .unwrap()
            .into(),
        ..o
    };
    let failed = wait_for(&app, &o, "sign_in_failed", 100).await;
    let all = entries(&app, &o).await;
    let rows: Vec<&Value> = all
        .iter()
        .filter(|e| e["action"] == "sign_in_failed")
        .collect();
    assert_eq!(rows.len(), 1, "one row for one address: {rows:?}");
    assert_eq!(failed["count"], 100);
    assert_eq!(failed["client_addr"], "127.0.0.1");
    assert_eq!(
        failed["last_ts"].as_i64().unwrap() - failed["ts"].as_i64().unwrap(),
        19 * (15 * 60 + 1)
    );

    // From 25 more addresses at once: at most 10 addresses a day get rows of their own
    // (127.0.0.1 is one of them), the rest share one row without an address.
    let mut tasks = Vec::new();
    for octet in 10..35u8 {
        let client = app.client_from(octet);
        let url = app.url("/api/auth/login");
        let body = json!({"email": o.email, "password": WRONG_PASSWORD});
        tasks.push(tokio::spawn(async move {
            client.post(url).json(&body).send().await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().as_u16(), 401);
    }
    wait_for(&app, &o, "sign_in_failed", 125).await;
    let all = entries(&app, &o).await;
    let rows: Vec<&Value> = all
        .iter()
        .filter(|e| e["action"] == "sign_in_failed")
        .collect();
    assert_eq!(rows.len(), 10 + 1, "{rows:?}");
    let shared: Vec<&&Value> = rows.iter().filter(|e| e["client_addr"].is_null()).collect();
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0]["count"], 16);
}

async fn pages_are_keyed_by_id(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    for i in 0..11 {
        app.agent(&o, &format!("a{i}")).await;
    }
    let all = entries(&app, &o).await;
    assert_eq!(all.len(), 12);
    let mut seen = Vec::new();
    let mut query = "?limit=5".to_string();
    loop {
        let p = page(&app, &o, &query).await;
        let got = p["entries"].as_array().unwrap().clone();
        assert!(got.len() <= 5);
        seen.extend(got);
        match p["next_before"].as_i64() {
            Some(next) => query = format!("?limit=5&before={next}"),
            None => break,
        }
    }
    assert_eq!(
        seen, all,
        "the pages together are the whole log, newest first"
    );
    let ids: Vec<i64> = seen.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    // An entry written meanwhile does not shift the next page.
    let p = page(&app, &o, "?limit=4").await;
    app.agent(&o, "late").await;
    let next = p["next_before"].as_i64().unwrap();
    let p2 = page(&app, &o, &format!("?limit=4&before={next}")).await;
    assert_eq!(p2["entries"][0], all[4]);
}

async fn retention_prunes_old_entries(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.activity_retention_days = 7).await;
    let o = app.first_owner().await;
    app.agent(&o, "old").await;
    app.clock.advance(6 * 86_400);
    let o = Owner {
        token: app.login(&o.email, PASSWORD).await.ok(200).json["token"]
            .as_str()
            .unwrap()
            .into(),
        ..o
    };
    app.agent(&o, "recent").await;
    app.state.maintain().await.unwrap();
    assert_eq!(
        entries(&app, &o).await.len(),
        4,
        "nothing is old enough yet"
    );
    app.clock.advance(86_400 + 1);
    let o = Owner {
        token: app.login(&o.email, PASSWORD).await.ok(200).json["token"]
            .as_str()
            .unwrap()
            .into(),
        ..o
    };
    app.state.maintain().await.unwrap();
    let left = entries(&app, &o).await;
    assert_eq!(
        actions(&left),
        ["sign_in", "agent_created", "sign_in"],
        "the first day's entries are gone"
    );
    assert_eq!(left[1]["object_name"], "recent");
}
