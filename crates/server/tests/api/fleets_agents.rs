//! Fleets and agents as their owner manages them (SPEC §7): CRUD, list filters and
//! pages, the agent secret shown once, deletion.

use serde_json::{json, Value};

use crate::common::fixtures;
use crate::common::fixtures::ids;
use crate::common::{Backend, TestApp, ANON};

both_backends!(
    fleets_crud,
    agent_create_shows_the_secret_once,
    agent_create_validates_input,
    agent_list_filters_and_pages,
    agent_delete_removes_it,
);

async fn fleets_crud(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    app.get("/api/fleets", ANON).await.err(401, "unauthorized");
    let f = app
        .post("/api/fleets", &o.token, &json!({"name": "  prod  "}))
        .await
        .ok(201)
        .json;
    assert_eq!(f["name"], "prod");
    assert_eq!(f["agent_count"], 0);
    assert_eq!(f["created_at"], app.now());
    let id = f["id"].as_str().unwrap().to_string();
    app.post("/api/fleets", &o.token, &json!({"name": "prod"}))
        .await
        .err(409, "conflict");
    app.post("/api/fleets", &o.token, &json!({"name": " "}))
        .await
        .err(400, "invalid_request");
    app.post("/api/fleets", &o.token, &json!({"name": "x".repeat(101)}))
        .await
        .err(400, "invalid_request");
    app.post("/api/fleets", &o.token, &json!({"name": "x".repeat(100)}))
        .await
        .ok(201);

    app.create_agent(&o, json!({"name": "a1", "fleet_id": id}))
        .await;
    let got = app
        .get(&format!("/api/fleets/{id}"), &o.token)
        .await
        .ok(200);
    assert_eq!(got.json["agent_count"], 1);
    let list = app.get("/api/fleets", &o.token).await.ok(200);
    let counts: Vec<(&str, i64)> = list.json["fleets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["agent_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("prod", 1), (&*"x".repeat(100), 0)]);

    // Another owner sees none of it: not in the list, 404 by id.
    let eve = app.other_owner("eve@example.com").await;
    let theirs = app.get("/api/fleets", &eve.token).await.ok(200);
    assert_eq!(theirs.json["fleets"], json!([]));
    let path = format!("/api/fleets/{id}");
    app.get(&path, &eve.token).await.err(404, "not_found");
    app.patch(&path, &eve.token, &json!({"name": "mine"}))
        .await
        .err(404, "not_found");
    app.delete(&path, &eve.token).await.err(404, "not_found");

    app.delete(&format!("/api/fleets/{id}"), &o.token)
        .await
        .err(409, "conflict");
    let agents = app.get("/api/agents", &o.token).await.ok(200);
    let agent_id = agents.json["agents"][0]["id"].as_str().unwrap().to_string();
    app.delete(&format!("/api/agents/{agent_id}"), &o.token)
        .await
        .ok(204);
    app.delete(&format!("/api/fleets/{id}"), &o.token)
        .await
        .ok(204);
    app.get(&format!("/api/fleets/{id}"), &o.token)
        .await
        .err(404, "not_found");
    app.delete(&format!("/api/fleets/{id}"), &o.token)
        .await
        .err(404, "not_found");
}

async fn agent_create_shows_the_secret_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let r = app
        .post(
            "/api/agents",
            &o.token,
            &json!({"name": "web-1", "policy_profile": "ops", "gateway_url": "https://gw.example.com"}),
        )
        .await
        .ok(201);
    let secret = r.json["agent_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ocf_as_"));
    fixtures::secret(&secret); // exactly 32 encoded bytes
    let agent = &r.json["agent"];
    let id = agent["id"].as_str().unwrap();
    assert_eq!(agent["name"], "web-1");
    assert_eq!(agent["policy_profile"], "ops");
    assert_eq!(agent["heartbeat_interval"], 15);
    assert_eq!(agent["gateway_url"], "https://gw.example.com");
    assert_eq!(agent["status"], "pending");
    assert_eq!(agent["last_seen"], Value::Null);
    assert_eq!(agent["config_version"], 0);
    assert_eq!(agent["created_at"], app.now());

    let detail = app
        .get(&format!("/api/agents/{id}"), &o.token)
        .await
        .ok(200);
    assert!(!detail.text.contains(&secret));
    assert!(!detail.text.contains(&secret["ocf_as_".len()..]));
    assert_eq!(detail.json["config"], Value::Null);
    assert_eq!(detail.json["wrapped_secret"], Value::Null);
    let list = app.get("/api/agents", &o.token).await.ok(200);
    assert!(!list.text.contains(&secret["ocf_as_".len()..]));
    let policies = app.get("/api/policies", &o.token).await.ok(200).json;
    let intervals: Vec<(String, i64)> = policies["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["heartbeat_interval"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        intervals,
        [("dev".into(), 30), ("ops".into(), 15), ("exec".into(), 60)]
    );
    // A second agent gets a different secret.
    let other = app.agent(&o, "web-2").await;
    assert_ne!(other.secret, secret);
}

async fn agent_create_validates_input(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let missing_fleet = uuid::Uuid::new_v4().to_string();
    for body in [
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "a", "policy_profile": "root"}),
        json!({"name": "a", "gateway_url": "ftp://gw"}),
        json!({"name": "a", "fleet_id": missing_fleet}),
        json!({"name": "a", "unexpected": true}),
        json!({"name": 7}),
        json!({}),
    ] {
        app.post("/api/agents", &o.token, &body)
            .await
            .err(400, "invalid_request");
    }
    let list = app.get("/api/agents", &o.token).await.ok(200);
    assert_eq!(list.json["total"], 0);
}

async fn agent_list_filters_and_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let f1 = app
        .post("/api/fleets", &o.token, &json!({"name": "f1"}))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let f2 = app
        .post("/api/fleets", &o.token, &json!({"name": "f2"}))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut in_f1 = Vec::new();
    for i in 0..3 {
        app.clock.advance(1);
        let a = app
            .create_agent(&o, json!({"name": format!("f1-{i}"), "fleet_id": f1}))
            .await;
        in_f1.push(a);
    }
    app.clock.advance(1);
    let in_f2 = app
        .create_agent(&o, json!({"name": "f2-0", "fleet_id": f2}))
        .await;
    app.clock.advance(1);
    let loose = app.agent(&o, "loose").await;

    let all = app.get("/api/agents", &o.token).await.ok(200).json;
    assert_eq!(all["total"], 5);
    assert_eq!(all["page"], Value::Null, "page only when paging by page");
    assert_eq!(all["limit"], 50);
    assert_eq!(all["next_cursor"], Value::Null, "one page");
    let mut expected: Vec<String> = in_f1.iter().map(|a| a.id.clone()).collect();
    expected.push(in_f2.id.clone());
    expected.push(loose.id.clone());
    assert_eq!(ids(&all), expected, "oldest first");

    let page = app
        .get(
            &format!("/api/agents?fleet_id={f1}&page=2&limit=2"),
            &o.token,
        )
        .await
        .ok(200)
        .json;
    assert_eq!(page["total"], 3);
    assert_eq!(
        (page["page"].clone(), page["limit"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(ids(&page), [in_f1[2].id.as_str()]);
    let f2_page = app
        .get(&format!("/api/agents?fleet_id={f2}"), &o.token)
        .await
        .ok(200)
        .json;
    assert_eq!(ids(&f2_page), [in_f2.id.as_str()]);
    let beyond = app
        .get("/api/agents?page=9&limit=2", &o.token)
        .await
        .ok(200)
        .json;
    assert_eq!((beyond["total"].clone(), ids(&beyond).len()), (json!(5), 0));

    // Statuses: a heartbeat makes one healthy, another idle; time makes one offline.
    let token = app.agent_token(&in_f1[0]).await;
    app.heartbeat(
        &token,
        &fixtures::heartbeat(&in_f1[0].id, "healthy", json!({})),
    )
    .await
    .ok(200);
    // Status filters read the stored status: what the flusher and the offline sweep write
    // within a second (done here at once).
    let by_status = |s: &str| {
        let path = format!("/api/agents?status={s}");
        let (app, o) = (&app, &o);
        async move {
            app.state.sweep_offline().await.expect("sweep");
            ids(&app.get(&path, &o.token).await.ok(200).json)
        }
    };
    assert_eq!(by_status("healthy").await, [in_f1[0].id.as_str()]);
    assert_eq!(by_status("pending").await.len(), 4);
    assert!(by_status("offline").await.is_empty());
    app.clock.advance(91);
    let token2 = app.agent_token(&in_f2).await;
    app.heartbeat(&token2, &fixtures::heartbeat(&in_f2.id, "idle", json!({})))
        .await
        .ok(200);
    assert_eq!(by_status("offline").await, [in_f1[0].id.as_str()]);
    assert_eq!(by_status("idle").await, [in_f2.id.as_str()]);
    assert!(by_status("healthy").await.is_empty());
    assert!(by_status("error").await.is_empty());
    assert_eq!(by_status("pending").await.len(), 3);
    let offline_in_f1 = app
        .get(
            &format!("/api/agents?status=offline&fleet_id={f1}"),
            &o.token,
        )
        .await
        .ok(200)
        .json;
    assert_eq!(offline_in_f1["total"], 1);

    for bad in [
        "status=asleep",
        "page=0",
        "limit=0",
        "limit=201",
        "page=x",
        "sort=size",
        "order=name",
    ] {
        app.get(&format!("/api/agents?{bad}"), &o.token)
            .await
            .err(400, "invalid_request");
    }
}

async fn agent_delete_removes_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "gone").await;
    let keep = app.agent(&o, "kept").await;
    let token = app.agent_token(&a).await;
    app.heartbeat(
        &token,
        &fixtures::heartbeat(&a.id, "healthy", json!({"cpu_usage": 1})),
    )
    .await
    .ok(200);
    app.delete(&format!("/api/agents/{}", a.id), &o.token)
        .await
        .ok(204);
    app.get(&format!("/api/agents/{}", a.id), &o.token)
        .await
        .err(404, "not_found");
    app.get(&format!("/api/agents/{}/metrics", a.id), &o.token)
        .await
        .err(404, "not_found");
    app.delete(&format!("/api/agents/{}", a.id), &o.token)
        .await
        .err(404, "not_found");
    app.handshake_now(&a).await.err(401, "unauthorized");
    let list = app.get("/api/agents", &o.token).await.ok(200).json;
    assert_eq!(ids(&list), [keep.id.as_str()]);
    app.delete("/api/agents/not-a-uuid", &o.token)
        .await
        .err(404, "not_found");
}
