use openclaw_fleet_protocol::*;
use serde_json::{json, Value};

const ID: &str = "75d490bd-b9e2-44ea-a49c-ea2cf9b45726";

fn body(metrics: Value) -> Value {
    json!({"agent_id": ID, "status": "healthy", "metrics": metrics})
}

fn metrics_error(metrics: Value) -> String {
    match HeartbeatRequest::parse(&body(metrics.clone())) {
        Err(ProtocolError::InvalidMetrics(msg)) => msg,
        other => panic!("{metrics}: {other:?}"),
    }
}

fn request_error(b: Value) -> String {
    match HeartbeatRequest::parse(&b) {
        Err(ProtocolError::InvalidRequest(msg)) => msg,
        other => panic!("{b}: {other:?}"),
    }
}

#[test]
fn spec_example_parses() {
    let hb = HeartbeatRequest::parse(&body(json!({
        "cpu_usage": 12.5, "memory_usage": 40.1, "uptime_hours": 71, "latency_ms": 8
    })))
    .unwrap();
    assert_eq!(hb.agent_id.to_string(), ID);
    assert_eq!(hb.status, AgentStatus::Healthy);
    assert_eq!(hb.metrics["cpu_usage"], 12.5);
    assert_eq!(hb.metrics["uptime_hours"], 71.0);
    assert_eq!(hb.config_version_applied, None);
    let again = HeartbeatRequest::parse(&serde_json::to_value(&hb).unwrap()).unwrap();
    assert_eq!(again, hb);
}

#[test]
fn optional_fields() {
    let mut b = body(json!({}));
    b["status"] = json!("error");
    b["config_version_applied"] = json!(4);
    b["error"] = json!("config_rejected");
    b["model"] = json!(null);
    b["version"] = json!("é".repeat(200));
    b["unknown"] = json!({"ignored": true});
    let hb = HeartbeatRequest::parse(&b).unwrap();
    assert_eq!(hb.status, AgentStatus::Error);
    assert_eq!(hb.config_version_applied, Some(4));
    assert_eq!(hb.error.as_deref(), Some("config_rejected"));
    assert_eq!(
        (hb.model, hb.version.map(|v| v.chars().count())),
        (None, Some(200))
    );
    let bare = HeartbeatRequest::parse(&json!({"agent_id": ID, "status": "idle"})).unwrap();
    assert!(bare.metrics.is_empty());
}

#[test]
fn refuses_bad_fields() {
    let set = |k: &str, v: Value| {
        let mut b = body(json!({}));
        b[k] = v;
        request_error(b)
    };
    assert!(request_error(json!([])).contains("object"));
    let mut upper = body(json!({}));
    upper["agent_id"] = json!(ID.to_uppercase());
    assert!(matches!(
        HeartbeatRequest::parse(&upper),
        Err(ProtocolError::InvalidId)
    ));
    assert!(set("agent_id", json!(7)).contains("agent_id"));
    assert!(set("status", json!("offline")).contains("status"));
    assert!(set("status", json!("Healthy")).contains("status"));
    assert!(set("config_version_applied", json!(-1)).contains("config_version_applied"));
    assert!(set("config_version_applied", json!("3")).contains("config_version_applied"));
    assert!(set("error", json!("x".repeat(201))).contains("error"));
    assert!(set("machine_id", json!(5)).contains("machine_id"));
    assert!(set("location", json!("a\nb")).contains("location"));
    assert!(set("error", json!("leaked ocf_as_abc")).contains("secret"));
    assert!(set("model", json!("ocf_es_abc")).contains("secret"));
}

#[test]
fn metric_rules() {
    let ok = |m: Value| HeartbeatRequest::parse(&body(m)).unwrap().metrics;
    assert_eq!(ok(json!({"cpu_usage": 100}))["cpu_usage"], 100.0);
    assert_eq!(ok(json!({"cpu_usage": 0}))["cpu_usage"], 0.0);
    assert_eq!(
        ok(json!({"uptime_hours": 100000}))["uptime_hours"],
        100000.0
    );
    assert!(metrics_error(json!([1])).contains("object"));
    assert!(metrics_error(json!({"cpu_usage": "12"})).contains("cpu_usage"));
    assert!(metrics_error(json!({"cpu_usage": null})).contains("cpu_usage"));
    assert!(metrics_error(json!({"cpu_usage": 100.01})).contains("cpu_usage"));
    assert!(metrics_error(json!({"disk_usage": 101})).contains("disk_usage"));
    assert!(metrics_error(json!({"gpu_percent": 150})).contains("gpu_percent"));
    assert!(metrics_error(json!({"latency_ms": -1})).contains("latency_ms"));
    assert!(metrics_error(json!({"CPU": 1})).contains("names"));
    assert!(metrics_error(json!({"": 1})).contains("names"));
    assert!(metrics_error(json!({"a-b": 1})).contains("names"));
    let long = "m".repeat(65);
    assert!(metrics_error(json!({ long: 1 })).contains("names"));
    assert_eq!(ok(json!({ "m".repeat(64): 1 })).len(), 1);
}

#[test]
fn custom_metric_limit() {
    let mut m = serde_json::Map::new();
    for known in [
        "cpu_usage",
        "memory_usage",
        "disk_usage",
        "uptime_hours",
        "latency_ms",
        "load_avg",
    ] {
        m.insert(known.into(), json!(1));
    }
    for i in 0..32 {
        m.insert(format!("plugin_{i}"), json!(i));
    }
    assert_eq!(
        HeartbeatRequest::parse(&body(Value::Object(m.clone())))
            .unwrap()
            .metrics
            .len(),
        38
    );
    m.insert("plugin_32".into(), json!(1));
    assert!(metrics_error(Value::Object(m)).contains("32"));
}

#[test]
fn status_serde() {
    assert_eq!(
        serde_json::to_value(AgentStatus::Idle).unwrap(),
        json!("idle")
    );
    let s: AgentStatus = serde_json::from_value(json!("error")).unwrap();
    assert_eq!(
        (s, s.as_str(), s.to_string()),
        (AgentStatus::Error, "error", "error".into())
    );
    assert!(serde_json::from_value::<AgentStatus>(json!("HEALTHY")).is_err());
}

#[test]
fn builtin_policies_are_complete() {
    let all = builtin_policies();
    let names: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["dev", "ops", "exec"]);
    for (name, interval) in [("dev", 30), ("ops", 15), ("exec", 60)] {
        let p = policy(name).unwrap();
        assert_eq!(p.heartbeat_interval, interval);
        assert!(!p.skills.is_empty() && !p.tools.is_empty() && !p.guardrails.is_empty());
    }
    assert!(policy(DEFAULT_POLICY).is_some());
    assert!(policy("root").is_none());
    assert!(policy("DEV").is_none());
}

#[test]
fn responses_round_trip_and_redact_tokens() {
    let answer = json!({
        "token": "tok-SECRET-123", "expires_in": 3600, "heartbeat_interval": 30,
        "policy": serde_json::to_value(policy("dev").unwrap()).unwrap(),
        "gateway_url": null, "config": null, "config_version": 0, "server_time": 1764326401u64
    });
    let hs: HandshakeResponse = serde_json::from_value(answer.clone()).unwrap();
    assert_eq!(serde_json::to_value(&hs).unwrap(), answer);
    assert!(!format!("{hs:?}").contains("SECRET"));

    let hb = json!({"message": "Heartbeat received", "status": "healthy",
        "policy": answer["policy"], "heartbeat_interval": 30, "config_version": 3});
    let parsed: HeartbeatResponse = serde_json::from_value(hb.clone()).unwrap();
    assert_eq!(parsed.token, None);
    assert_eq!(serde_json::to_value(&parsed).unwrap(), hb);
    let mut renewed = hb;
    renewed["token"] = json!("tok-SECRET-456");
    renewed["expires_in"] = json!(3600);
    let parsed: HeartbeatResponse = serde_json::from_value(renewed).unwrap();
    assert_eq!(parsed.token.as_deref(), Some("tok-SECRET-456"));
    assert!(!format!("{parsed:?}").contains("SECRET"));

    let cfg: ConfigResponse =
        serde_json::from_value(json!({"config": null, "config_version": 0})).unwrap();
    assert_eq!(cfg.config, None);
}

#[test]
fn config_delivery_is_optional_and_an_unknown_value_is_ignored() {
    let mut b = body(json!({}));
    assert_eq!(HeartbeatRequest::parse(&b).unwrap().config_delivery, None);
    for (text, want) in [
        ("not_set_up", Some(ConfigDelivery::NotSetUp)),
        ("ready", Some(ConfigDelivery::Ready)),
        ("from_the_future", None),
    ] {
        b["config_delivery"] = json!(text);
        let hb = HeartbeatRequest::parse(&b).unwrap();
        assert_eq!(hb.config_delivery, want, "{text}");
        if want.is_some() {
            let again = serde_json::to_value(&hb).unwrap();
            assert_eq!(again["config_delivery"], text);
        }
    }
    b["config_delivery"] = json!(false);
    assert!(request_error(b).contains("config_delivery"));
}
