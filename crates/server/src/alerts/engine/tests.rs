//! The evaluator's transitions, driven by hand.

use super::*;
use crate::alerts::WebhookKind;

fn rule(id: &str, condition: Condition, threshold: f64, for_secs: i64, cooldown: i64) -> Arc<Rule> {
    Arc::new(Rule {
        id: id.into(),
        owner_id: "o".into(),
        fleet_id: None,
        name: id.into(),
        condition,
        threshold,
        for_secs,
        cooldown_secs: cooldown,
        kind: WebhookKind::Generic,
        host: "h".into(),
        url_sealed: String::new(),
        secret_sealed: String::new(),
    })
}

fn events(n: &[Notice]) -> Vec<(&str, &'static str)> {
    n.iter()
        .map(|n| (n.rule.id.as_str(), n.event.as_str()))
        .collect()
}

#[test]
fn offline_fires_once_at_its_deadline_and_resolves_on_the_next_heartbeat() {
    let mut e = Engine::default();
    e.set_rules("o", vec![rule("off", Condition::AgentOffline, 0.0, 120, 0)]);
    assert!(e
        .heartbeat("a", "o", None, &Facts::default(), 1000)
        .is_empty());
    assert!(e
        .heartbeat("a", "o", None, &Facts::default(), 1030)
        .is_empty());
    assert!(
        e.tick(1120).is_empty(),
        "the first deadline is checked against the later heartbeat"
    );
    assert_eq!(events(&e.tick(1150)), [("off", "firing")]);
    assert!(e.tick(5000).is_empty(), "fires once");
    assert_eq!(e.sizes().1, 0, "a firing agent has no deadline");
    assert_eq!(
        events(&e.heartbeat("a", "o", None, &Facts::default(), 5001)),
        [("off", "resolved")]
    );
    assert_eq!(e.sizes().1, 1, "re-armed");
}

#[test]
fn cooldown_quiets_a_second_firing_and_its_resolution() {
    let mut e = Engine::default();
    e.set_rules("o", vec![rule("err", Condition::StatusError, 0.0, 0, 600)]);
    let bad = Facts {
        status_error: true,
        ..Facts::default()
    };
    let good = Facts::default();
    assert_eq!(
        events(&e.heartbeat("a", "o", None, &bad, 0)),
        [("err", "firing")]
    );
    assert!(e.heartbeat("a", "o", None, &bad, 10).is_empty());
    assert_eq!(
        events(&e.heartbeat("a", "o", None, &good, 20)),
        [("err", "resolved")]
    );
    assert!(
        e.heartbeat("a", "o", None, &bad, 30).is_empty(),
        "within the cooldown"
    );
    assert!(
        e.heartbeat("a", "o", None, &good, 40).is_empty(),
        "its resolution too"
    );
    assert_eq!(
        events(&e.heartbeat("a", "o", None, &bad, 700)),
        [("err", "firing")]
    );
}

#[test]
fn cpu_must_stay_above_for_the_duration() {
    let mut e = Engine::default();
    e.set_rules("o", vec![rule("cpu", Condition::CpuAbove, 90.0, 60, 0)]);
    let cpu = |v| Facts {
        cpu: Some(v),
        ..Facts::default()
    };
    assert!(e.heartbeat("a", "o", None, &cpu(95.0), 0).is_empty());
    assert!(
        e.heartbeat("a", "o", None, &cpu(50.0), 30).is_empty(),
        "dipped: starts again"
    );
    assert!(e.heartbeat("a", "o", None, &cpu(95.0), 40).is_empty());
    assert!(
        e.heartbeat("a", "o", None, &Facts::default(), 70)
            .is_empty(),
        "no sample: no change"
    );
    assert_eq!(
        events(&e.heartbeat("a", "o", None, &cpu(99.0), 100)),
        [("cpu", "firing")]
    );
    assert_eq!(
        events(&e.heartbeat("a", "o", None, &cpu(10.0), 110)),
        [("cpu", "resolved")]
    );
}

#[test]
fn fleet_scope_and_other_owners() {
    let mut e = Engine::default();
    let mut r = (*rule("gw", Condition::GatewayUnreachable, 0.0, 0, 0)).clone();
    r.fleet_id = Some("f1".into());
    e.set_rules("o", vec![Arc::new(r)]);
    let down = Facts {
        gateway_unreachable: Some(true),
        ..Facts::default()
    };
    assert!(e.heartbeat("a", "o", Some("f2"), &down, 0).is_empty());
    assert!(e.heartbeat("b", "other", Some("f1"), &down, 0).is_empty());
    assert_eq!(
        events(&e.heartbeat("c", "o", Some("f1"), &down, 0)),
        [("gw", "firing")]
    );
    assert!(
        e.heartbeat("c", "o", Some("f1"), &Facts::default(), 1)
            .is_empty(),
        "unknown: unchanged"
    );
    let up = Facts {
        gateway_unreachable: Some(false),
        ..Facts::default()
    };
    assert_eq!(
        events(&e.heartbeat("c", "o", Some("f1"), &up, 2)),
        [("gw", "resolved")]
    );
}

#[test]
fn plaintext_fires_without_resolution_and_deleted_rules_drop_state() {
    let mut e = Engine::default();
    e.set_rules(
        "o",
        vec![
            rule("pt", Condition::PlaintextSecret, 0.0, 0, 0),
            rule("off", Condition::AgentOffline, 0.0, 60, 0),
        ],
    );
    e.seed("a", "o", None, Some(0));
    assert_eq!(events(&e.plaintext_secret("a", 5)), [("pt", "firing")]);
    assert_eq!(
        events(&e.plaintext_secret("a", 6)),
        [("pt", "firing")],
        "an event, not a state"
    );
    assert_eq!(events(&e.tick(61)), [("off", "firing")]);
    e.set_rules("o", Vec::new());
    assert!(
        e.heartbeat("a", "o", None, &Facts::default(), 70)
            .is_empty(),
        "no resolution for a deleted rule"
    );
    assert!(!e.owner_has_rules("o"));
}

#[test]
fn facts_travel_compactly() {
    let f = Facts {
        status_error: true,
        config_failed: false,
        gateway_unreachable: Some(true),
        cpu: Some(12.5),
        memory: None,
    };
    assert_eq!(f.encode(), "eG:12.5:");
    assert_eq!(Facts::decode(&f.encode()), Some(f));
    assert_eq!(Facts::decode("x::"), None);
    assert_eq!(Facts::decode("e:NaN:"), None);
    assert_eq!(Facts::decode("e:1"), None);
}
