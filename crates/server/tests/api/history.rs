//! Config history: every save is kept (the newest 20 per agent, pruned with the save),
//! each with its time and the id of the session that saved it; any kept envelope can
//! be read back unchanged by its owner and by nobody else; a restore is an ordinary
//! new version; history rows are sealed under the at-rest layer, bound to their agent
//! and version.

use openclaw_fleet::crypto::at_rest::AtRest;
use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::{json, Value};

use crate::common::fixtures::{config_document, envelope};
use crate::common::{Agent, Backend, Owner, TestApp};

both_backends!(
    history_keeps_the_last_twenty,
    history_is_owner_scoped,
    a_restore_is_a_new_version,
    history_rows_are_sealed_to_their_agent_and_version,
);

async fn save(app: &TestApp, o: &Owner, a: &Agent, es: &EncryptionSecret, v: u64) -> Value {
    let env = envelope(es, &a.id, v, &config_document(&format!("v{v}")));
    app.put(
        &format!("/api/agents/{}/config", a.id),
        &o.token,
        &json!({ "config": env }),
    )
    .await
    .ok(200);
    env
}

fn versions(list: &Value) -> Vec<i64> {
    list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect()
}

async fn history_keeps_the_last_twenty(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "a").await;
    let es = EncryptionSecret::generate();
    let url = format!("/api/agents/{}/config/history", a.id);
    let empty = app.get(&url, &o.token).await.ok(200).json;
    assert_eq!(empty, json!({ "versions": [] }));

    let me = app.get("/api/me", &o.token).await.ok(200).json;
    let session = me["session_id"].as_str().unwrap().to_string();
    // The id the account's session list shows for this session.
    let listed = app.get("/api/me/sessions", &o.token).await.ok(200).json;
    let current = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .clone();
    assert_eq!(current, session.as_str());
    assert!(!o.token.contains(&session));
    let mut sent = Vec::new();
    let start = app.now();
    for v in 1..=21 {
        app.clock.advance(1);
        sent.push(save(&app, &o, &a, &es, v).await);
    }
    let list = app.get(&url, &o.token).await.ok(200).json;
    assert_eq!(versions(&list), (2..=21).rev().collect::<Vec<_>>());
    let newest = &list["versions"][0];
    assert_eq!(newest["saved_at"], start + 21);
    assert_eq!(newest["saved_by"], session.as_str());
    app.get(&format!("{url}/1"), &o.token)
        .await
        .err(404, "not_found");
    for v in [2, 21] {
        let got = app.get(&format!("{url}/{v}"), &o.token).await.ok(200).json;
        assert_eq!(got["version"], v);
        assert_eq!(
            got["config"],
            sent[v as usize - 1],
            "version {v} as uploaded"
        );
    }
    // Another session of the same owner is named apart.
    let other = app.login(&o.email, crate::common::PASSWORD).await.ok(200);
    let token = other.json["token"].as_str().unwrap();
    let env = envelope(&es, &a.id, 22, &config_document("v22"));
    app.put(
        &format!("/api/agents/{}/config", a.id),
        token,
        &json!({ "config": env }),
    )
    .await
    .ok(200);
    let list = app.get(&url, &o.token).await.ok(200).json;
    assert_eq!(versions(&list).len(), 20);
    assert_ne!(list["versions"][0]["saved_by"], session.as_str());
    assert_eq!(list["versions"][1]["saved_by"], session.as_str());
    // A refused save adds nothing.
    app.put(
        &format!("/api/agents/{}/config", a.id),
        &o.token,
        &json!({ "config": envelope(&es, &a.id, 22, &config_document("stale")) }),
    )
    .await
    .err(409, "version_conflict");
    assert_eq!(app.get(&url, &o.token).await.ok(200).json, list);
}

async fn history_is_owner_scoped(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.first_owner().await;
    let mallory = app.other_owner("mallory@example.com").await;
    let hers = app.agent(&alice, "hers").await;
    let es = EncryptionSecret::generate();
    save(&app, &alice, &hers, &es, 1).await;
    let url = format!("/api/agents/{}/config/history", hers.id);
    let ghost = format!("/api/agents/{}/config/history", uuid::Uuid::new_v4());
    for path in [
        url.clone(),
        format!("{url}/1"),
        ghost.clone(),
        format!("{ghost}/1"),
    ] {
        let r = app.get(&path, &mallory.token).await;
        r.err(404, "not_found");
        assert!(!r.text.contains(&hers.id), "{}", r.text);
    }
    for path in [format!("{url}/0"), format!("{url}/-1"), format!("{url}/99")] {
        app.get(&path, &alice.token).await.err(404, "not_found");
    }
    app.get(&format!("{url}/abc"), &alice.token)
        .await
        .err(400, "invalid_request");
    app.get(&url, crate::common::ANON)
        .await
        .err(401, "unauthorized");
    // Deleting the agent deletes its history.
    app.delete(&format!("/api/agents/{}", hers.id), &alice.token)
        .await
        .ok(204);
    app.get(&url, &alice.token).await.err(404, "not_found");
}

async fn a_restore_is_a_new_version(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "a").await;
    let es = EncryptionSecret::generate();
    for v in 1..=3 {
        save(&app, &o, &a, &es, v).await;
    }
    let put = |body: Value| {
        let app = &app;
        let url = format!("/api/agents/{}/config", a.id);
        let token = o.token.clone();
        async move { app.put(&url, &token, &body).await }
    };
    // The content of version 1, re-sealed as version 4.
    let restored = envelope(&es, &a.id, 4, &config_document("v1"));
    for from in [0, 4, 5, -1] {
        put(json!({ "config": restored, "restored_from": from }))
            .await
            .err(400, "invalid_request");
    }
    // Version 1's own envelope cannot come back: the version check refuses it.
    let old = app
        .get(&format!("/api/agents/{}/config/history/1", a.id), &o.token)
        .await
        .ok(200)
        .json;
    put(json!({ "config": old["config"] }))
        .await
        .err(409, "version_conflict");
    let r = put(json!({ "config": restored, "restored_from": 1 }))
        .await
        .ok(200);
    assert_eq!(r.json["config_version"], 4);
    let token = app.agent_token(&a).await;
    let got = app
        .get(&format!("/api/agents/{}/config", a.id), &token)
        .await
        .ok(200)
        .json;
    assert_eq!(got["config_version"], 4);
    assert_eq!(got["config"], restored);
}

/// Every history cell of the database, read straight from it: (row text, sealed value).
async fn history_cells(app: &TestApp) -> Vec<(String, String)> {
    let url = app.state.settings().database_url();
    let sql =
        "SELECT agent_id || '/' || CAST(version AS TEXT), envelope_sealed FROM config_history";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

async fn history_rows_are_sealed_to_their_agent_and_version(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let (a, c) = (app.agent(&o, "a").await, app.agent(&o, "c").await);
    let es = EncryptionSecret::generate();
    let mut sent = Vec::new();
    for v in 1..=2 {
        sent.push(save(&app, &o, &a, &es, v).await);
    }
    save(&app, &o, &c, &es, 1).await;
    let cells = history_cells(&app).await;
    assert_eq!(cells.len(), 3);
    for (row, sealed) in &cells {
        assert!(AtRest::looks_sealed(sealed), "{row}: not sealed");
        for env in &sent {
            assert!(!sealed.contains(env["ct"].as_str().unwrap()), "{row}");
        }
    }
    // The operator's audit reads them back under their own row, and finds them clean.
    let (checked, findings) = app.state.audit().await.expect("audit runs");
    assert!(checked > 3);
    assert_eq!(findings, vec![], "audit findings");

    // A database writer copies a's version 1 over c's: it no longer opens, and the
    // audit names the row.
    let a_first = cells
        .iter()
        .find(|(r, _)| *r == format!("{}/1", a.id))
        .unwrap();
    execute(
        &app,
        "UPDATE config_history SET envelope_sealed = $1 WHERE agent_id = $2 AND version = 1",
        &a_first.1,
        &c.id,
    )
    .await;
    let (_, findings) = app.state.audit().await.expect("audit runs");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].table, "config_history");
    assert_eq!(findings[0].row, format!("{}/1", c.id));
    let r = app
        .get(&format!("/api/agents/{}/config/history/1", c.id), &o.token)
        .await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert!(!r.text.contains("ocf1."), "{}", r.text);
}

async fn execute(app: &TestApp, sql: &str, a: &str, b: &str) {
    let url = app.state.settings().database_url();
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}
