//! Alerts end to end: rules over HTTP, real handshakes and heartbeats, the server's test
//! clock moved past offline deadlines, and a real webhook receiver in the test that
//! checks every signature. An agent that stops heartbeating fires once and resolves when
//! it returns; retries back off; cooldown quiets repeats; Slack and Discord shapes; the
//! rules and deliveries of one owner are invisible to another; private targets need the
//! operator's opt-in.

mod real_agent;
pub mod receiver;

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{fixtures, Agent, Backend, Owner, TestApp};
use receiver::{verifies, verify, Receiver};

both_backends!(
    offline_fires_once_then_resolves,
    retries_back_off_and_cooldown_quiets_repeats,
    slack_and_discord_payloads_and_plaintext_rule,
    rules_are_owner_scoped_validated_and_logged,
    private_targets_need_the_opt_in,
);

async fn app(b: Backend) -> TestApp {
    TestApp::spawn_with(b, |s| s.alert_webhooks_allow_private = true).await
}

/// Creates a rule; returns (id, signing secret).
async fn rule(app: &TestApp, owner: &Owner, body: Value) -> (String, String) {
    let r = app
        .post("/api/alerts/rules", &owner.token, &body)
        .await
        .ok(201);
    (
        r.json["rule"]["id"].as_str().expect("id").into(),
        r.json["signing_secret"].as_str().expect("secret").into(),
    )
}

async fn beat(app: &TestApp, token: &str, agent: &Agent, status: &str, error: Option<&str>) {
    let mut hb = fixtures::heartbeat(
        &agent.id,
        status,
        json!({ "cpu_usage": 10.0, "memory_usage": 20.0, "latency_ms": 3.0 }),
    );
    if let Some(e) = error {
        hb["error"] = json!(e);
    }
    app.heartbeat(token, &hb).await.ok(200);
}

async fn deliveries(app: &TestApp, owner: &Owner) -> Vec<Value> {
    app.get("/api/alerts/deliveries", &owner.token)
        .await
        .ok(200)
        .json["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone()
}

/// Waits until the owner's delivery log holds `n` rows.
async fn wait_deliveries(app: &TestApp, owner: &Owner, n: usize) -> Vec<Value> {
    for _ in 0..150 {
        let d = deliveries(app, owner).await;
        if d.len() >= n {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "the delivery log did not reach {n} rows: {:?}",
        deliveries(app, owner).await
    );
}

async fn offline_fires_once_then_resolves(b: Backend) {
    let app = app(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "web-1").await;
    let rx = Receiver::start(0).await;
    let (rule_id, secret) = rule(
        &app,
        &owner,
        json!({
            "name": "host down",
            "condition": "agent_offline",
            "minutes": 2,
            "cooldown_minutes": 0,
            "webhook": { "kind": "generic", "url": format!("{}/hooks/fleet?token=abc", rx.base) },
        }),
    )
    .await;
    let token = app.agent_token(&agent).await;
    beat(&app, &token, &agent, "healthy", None).await;
    let last_seen = app.now();

    // The agent stops. Just before the deadline nothing fires; past it, once.
    app.clock.advance(119);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        rx.hits().is_empty(),
        "fired before the deadline: {:?}",
        rx.hits()
    );
    app.clock.advance(2);
    let hits = rx.wait_for(1).await;
    let t = verify(&hits[0], &secret, app.now());
    assert!(
        !verifies(&hits[0], "ocf_whs_wrong"),
        "a wrong secret verifies"
    );
    let mut tampered = hits[0].clone();
    tampered.body.push(b' ');
    assert!(!verifies(&tampered, &secret), "a changed body verifies");
    assert_eq!(t, app.now());
    assert_eq!(hits[0].path, "/hooks/fleet");
    let body = &hits[0].json;
    assert_eq!(body["type"], "openclaw_fleet.alert");
    assert_eq!(body["event"], "firing");
    assert_eq!(body["rule"]["id"], rule_id.as_str());
    assert_eq!(body["rule"]["condition"], "agent_offline");
    assert_eq!(body["rule"]["minutes"], 2);
    assert_eq!(body["agent"]["id"], agent.id.as_str());
    assert_eq!(body["agent"]["name"], "web-1");
    assert_eq!(body["since"], last_seen);

    // Still offline, much later: no second notice.
    app.clock.advance(600);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.hits().len(), 1, "fired more than once: {:?}", rx.hits());

    // The agent returns: one resolved notice.
    let token = app.agent_token(&agent).await;
    beat(&app, &token, &agent, "healthy", None).await;
    let hits = rx.wait_for(2).await;
    verify(&hits[1], &secret, app.now());
    assert_eq!(hits[1].json["event"], "resolved");
    assert_eq!(hits[1].json["agent"]["id"], agent.id.as_str());

    let log = wait_deliveries(&app, &owner, 2).await;
    assert_eq!(log[0]["event"], "resolved");
    assert_eq!(log[1]["event"], "firing");
    for d in &log {
        assert_eq!(d["rule_id"], rule_id.as_str());
        assert_eq!(d["rule_name"], "host down");
        assert_eq!(d["agent_name"], "web-1");
        assert_eq!(d["http_status"], 200);
        assert_eq!(d["attempts"], 1);
        assert!(d["error"].is_null());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.hits().len(), 2, "extra notices: {:?}", rx.hits());
}

async fn retries_back_off_and_cooldown_quiets_repeats(b: Backend) {
    let app = app(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "db-1").await;
    let rx = Receiver::start(2).await;
    let (_, secret) = rule(
        &app,
        &owner,
        json!({
            "name": "errors",
            "condition": "status_error",
            "cooldown_minutes": 10,
            "webhook": { "kind": "generic", "url": format!("{}/h", rx.base) },
        }),
    )
    .await;
    let token = app.agent_token(&agent).await;
    let started = std::time::Instant::now();
    beat(&app, &token, &agent, "error", Some("gateway_unreachable")).await;
    let ok = rx.wait_for(1).await;
    let waited = started.elapsed();
    let all = rx.hits();
    assert_eq!(all.len(), 3, "two 500s then a 200: {all:?}");
    assert_eq!(
        all.iter().map(|h| h.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(
        waited >= Duration::from_secs(3),
        "backoff of 1 s then 2 s, took {waited:?}"
    );
    for h in &all {
        verify(h, &secret, app.now());
    }
    assert_eq!(ok[0].json["event"], "firing");
    let log = wait_deliveries(&app, &owner, 1).await;
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["http_status"], 200);

    // Resolves, then fails again within the cooldown: quiet, and so is its resolution.
    beat(&app, &token, &agent, "healthy", None).await;
    rx.wait_for(2).await;
    app.clock.advance(60);
    beat(&app, &token, &agent, "error", Some("gateway_unreachable")).await;
    beat(&app, &token, &agent, "healthy", None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rx.hits().len(),
        4,
        "a notice within the cooldown: {:?}",
        rx.hits()
    );

    // Past the cooldown, a new failure is told again.
    app.clock.advance(600);
    beat(&app, &token, &agent, "error", Some("config_invalid")).await;
    let ok = rx.wait_for(3).await;
    assert_eq!(ok[2].json["event"], "firing");
    assert_eq!(wait_deliveries(&app, &owner, 3).await.len(), 3);
}

async fn slack_and_discord_payloads_and_plaintext_rule(b: Backend) {
    let app = app(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "<!channel> @everyone").await;
    let rx = Receiver::start(0).await;
    for kind in ["slack", "discord"] {
        rule(
            &app,
            &owner,
            json!({
                "name": format!("{kind} config"),
                "condition": "config_apply_failed",
                "webhook": { "kind": kind, "url": format!("{}/{kind}", rx.base) },
            }),
        )
        .await;
    }
    rule(
        &app,
        &owner,
        json!({
            "name": "leak",
            "condition": "plaintext_secret",
            "webhook": { "kind": "generic", "url": format!("{}/generic", rx.base) },
        }),
    )
    .await;
    let token = app.agent_token(&agent).await;
    beat(&app, &token, &agent, "error", Some("config_rollback")).await;
    let hits = rx.wait_for(2).await;
    let slack = hits.iter().find(|h| h.path == "/slack").expect("slack");
    let discord = hits.iter().find(|h| h.path == "/discord").expect("discord");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&slack.json), ["text"]);
    let text = slack.json["text"].as_str().unwrap();
    assert!(text.starts_with("[FIRING] slack config: "), "{text}");
    assert!(
        text.contains("&lt;!channel&gt;"),
        "Slack control characters escaped: {text}"
    );
    assert!(text.contains("config apply failed"), "{text}");
    assert_eq!(keys(&discord.json), ["allowed_mentions", "content"]);
    assert_eq!(discord.json["allowed_mentions"], json!({ "parse": [] }));
    assert!(discord.json["content"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING] discord config: "));

    // The agent sends its secret in plaintext: the plaintext rule fires (no resolution).
    let mut body = fixtures::signed(&agent.id, &agent.secret, app.now());
    body["agent_secret"] = json!(agent.secret);
    let r = app.handshake(&body).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    let hits = rx.wait_for(3).await;
    let leak = hits
        .iter()
        .find(|h| h.path == "/generic")
        .expect("plaintext notice");
    assert_eq!(leak.json["rule"]["condition"], "plaintext_secret");
    assert_eq!(leak.json["event"], "firing");
    assert!(!leak
        .body
        .windows(agent.secret.len())
        .any(|w| w == agent.secret.as_bytes()));
}

async fn rules_are_owner_scoped_validated_and_logged(b: Backend) {
    let app = app(b).await;
    let a = app.first_owner().await;
    let other = app.other_owner("b@example.com").await;
    let fleet_b = app
        .post("/api/fleets", &other.token, &json!({ "name": "b-fleet" }))
        .await
        .ok(201)
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hook = json!({ "kind": "generic", "url": "https://hooks.example.com/x" });
    let bad = [
        (
            json!({ "condition": "status_error", "webhook": hook }),
            "name",
        ),
        (json!({ "name": "r", "webhook": hook }), "condition"),
        (
            json!({ "name": "r", "condition": "disk_full", "webhook": hook }),
            "condition",
        ),
        (
            json!({ "name": "r", "condition": "status_error" }),
            "webhook",
        ),
        (
            json!({ "name": "r", "condition": "agent_offline", "webhook": hook }),
            "minutes",
        ),
        (
            json!({ "name": "r", "condition": "agent_offline", "minutes": 0, "webhook": hook }),
            "minutes",
        ),
        (
            json!({ "name": "r", "condition": "cpu_above", "webhook": hook }),
            "threshold",
        ),
        (
            json!({ "name": "r", "condition": "cpu_above", "threshold": 100, "webhook": hook }),
            "threshold",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "threshold": 5, "webhook": hook }),
            "threshold",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "minutes": 5, "webhook": hook }),
            "minutes",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "cooldown_minutes": -1, "webhook": hook }),
            "cooldown_minutes",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "webhook": { "kind": "teams", "url": "https://x.example" } }),
            "webhook.kind",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "webhook": { "kind": "slack", "url": "ftp://x.example/" } }),
            "webhook.url",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "webhook": { "kind": "slack", "url": "not a url" } }),
            "webhook.url",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "fleet_id": fleet_b, "webhook": hook }),
            "fleet_id",
        ),
        (
            json!({ "name": "r", "condition": "status_error", "webhook": hook, "extra": 1 }),
            "extra",
        ),
    ];
    for (body, what) in &bad {
        let r = app.post("/api/alerts/rules", &a.token, body).await;
        r.err(400, "invalid_request");
        assert!(
            r.json["message"].as_str().unwrap().contains(what),
            "{what}: {}",
            r.text
        );
    }
    let listed = app.get("/api/alerts/rules", &a.token).await.ok(200).json;
    assert_eq!(listed["rules"], json!([]), "a refused rule was stored");

    let (id, secret) = rule(
        &app,
        &a,
        json!({ "name": "cpu", "condition": "cpu_above", "threshold": 90, "webhook": hook }),
    )
    .await;
    assert!(secret.starts_with("ocf_whs_"));
    let view = app
        .get(&format!("/api/alerts/rules/{id}"), &a.token)
        .await
        .ok(200)
        .json;
    assert_eq!(view["minutes"], 5);
    assert_eq!(view["cooldown_minutes"], 15);
    assert_eq!(
        view["webhook"],
        json!({ "kind": "generic", "host": "hooks.example.com" })
    );
    assert!(
        !view.to_string().contains("/x"),
        "the URL is shown again: {view}"
    );
    assert!(!view.to_string().contains(&secret));

    // Another owner: 404 everywhere, nothing listed, nothing changed.
    let path = format!("/api/alerts/rules/{id}");
    app.get(&path, &other.token).await.err(404, "not_found");
    app.patch(&path, &other.token, &json!({ "enabled": false }))
        .await
        .err(404, "not_found");
    app.delete(&path, &other.token).await.err(404, "not_found");
    assert_eq!(
        app.get("/api/alerts/rules", &other.token)
            .await
            .ok(200)
            .json["rules"],
        json!([])
    );
    app.get("/api/alerts/rules/not-a-uuid", &a.token)
        .await
        .err(404, "not_found");
    assert_eq!(app.get(&path, &a.token).await.ok(200).json["enabled"], true);

    // Edits: validated as a whole, condition fixed.
    app.patch(&path, &a.token, &json!({ "threshold": 150 }))
        .await
        .err(400, "invalid_request");
    app.patch(&path, &a.token, &json!({ "condition": "status_error" }))
        .await
        .err(400, "invalid_request");
    app.patch(&path, &a.token, &json!({}))
        .await
        .err(400, "invalid_request");
    let edited = app
        .patch(&path, &a.token, &json!({ "threshold": 75.5, "enabled": false, "webhook": { "kind": "slack", "url": "https://hooks.slack.com/services/T/B/tok" } }))
        .await
        .ok(200)
        .json;
    assert_eq!(edited["threshold"], 75.5);
    assert_eq!(edited["enabled"], false);
    assert_eq!(edited["webhook"]["host"], "hooks.slack.com");
    app.delete(&path, &a.token).await.ok(204);
    app.get(&path, &a.token).await.err(404, "not_found");

    // Deliveries: paging validated; another owner's are not listed.
    app.get("/api/alerts/deliveries?limit=0", &a.token)
        .await
        .err(400, "invalid_request");
    app.get("/api/alerts/deliveries?rule_id=x", &a.token)
        .await
        .err(400, "invalid_request");
    app.get("/api/alerts/deliveries", "")
        .await
        .err(401, "unauthorized");

    // The activity log names the changes, never the URL or secret.
    let activity = app.get("/api/activity", &a.token).await.ok(200).json;
    let actions: Vec<&str> = activity["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("alert_rule"))
        .collect();
    assert_eq!(
        actions,
        [
            "alert_rule_deleted",
            "alert_rule_edited",
            "alert_rule_created"
        ]
    );
    let text = activity.to_string();
    assert!(!text.contains("hooks.slack.com/services") && !text.contains(&secret));
    let (cells, findings) = app.state.audit().await.expect("audit");
    assert!(cells > 0);
    assert!(findings.is_empty(), "audit findings: {findings:?}");
}

async fn private_targets_need_the_opt_in(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.first_owner().await;
    let agent = app.agent(&owner, "edge").await;
    let rx = Receiver::start(0).await;
    rule(
        &app,
        &owner,
        json!({
            "name": "probe",
            "condition": "status_error",
            "webhook": { "kind": "generic", "url": format!("{}/internal", rx.base) },
        }),
    )
    .await;
    let token = app.agent_token(&agent).await;
    beat(&app, &token, &agent, "error", None).await;
    let log = wait_deliveries(&app, &owner, 1).await;
    assert!(log[0]["http_status"].is_null());
    assert_eq!(log[0]["attempts"], 1, "a refused target is not retried");
    let error = log[0]["error"].as_str().unwrap();
    assert!(error.contains("not allowed"), "{error}");
    assert!(!error.contains("127.0.0.1"), "{error}");
    assert!(rx.hits().is_empty(), "the private receiver was reached");
}

mod postgres_replicas {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_firing_is_sent_once_by_two_replicas() {
        if crate::common::skip_postgres() {
            return;
        }
        super::sent_once_by_two_replicas().await;
    }
}

/// Two replicas on one PostgreSQL database both evaluate; exactly one (the advisory
/// lock's holder) sends, whichever received the heartbeat.
async fn sent_once_by_two_replicas() {
    let a = app(Backend::Postgres).await;
    let b = a.replica().await;
    let owner = a.first_owner().await;
    let rx = Receiver::start(0).await;
    rule(
        &a,
        &owner,
        json!({
            "name": "errors",
            "condition": "status_error",
            "webhook": { "kind": "generic", "url": format!("{}/once", rx.base) },
        }),
    )
    .await;
    for _ in 0..50 {
        if a.state.alert_leader() != b.state.alert_leader() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(
        a.state.alert_leader(),
        b.state.alert_leader(),
        "exactly one sender"
    );
    // B learns the rule through the bus.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (n, (via, name)) in [(&b, "on-b"), (&a, "on-a")].into_iter().enumerate() {
        let agent = a.agent(&owner, name).await;
        let token = via.agent_token(&agent).await;
        beat(via, &token, &agent, "error", None).await;
        let hits = rx.wait_for(n + 1).await;
        assert_eq!(hits[n].json["agent"]["name"], name);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(rx.hits().len(), n + 1, "sent twice: {:?}", rx.hits());
    }
}
