//! The master-key parameters and wrapped secrets (SPEC §5, §7): KDF policy, set-up,
//! the password a change needs, and the all-or-nothing re-wrap of exactly the agents
//! that hold a wrapped secret.

use serde_json::{json, Value};

use crate::common::fixtures::{kdf, Wrap};
use crate::common::{Backend, Owner, TestApp, PASSWORD};

both_backends!(
    kdf_policy_and_first_setup,
    change_needs_the_account_password,
    concurrent_first_setups_cannot_both_win,
    change_rewraps_exactly_the_wrapped_agents_atomically,
    wrapped_secret_overwrite_needs_the_password,
    concurrent_first_wraps_cannot_both_win,
    a_wrap_and_a_key_change_never_both_win,
    a_wrap_under_a_replaced_key_is_refused,
);

const PATH: &str = "/api/me/master-key";

async fn get(app: &TestApp, o: &Owner) -> Value {
    app.get(PATH, &o.token).await.ok(200).json
}

fn wrapped_path(agent_id: &str) -> String {
    format!("/api/agents/{agent_id}/wrapped-secret")
}

/// The owner's master-key parameters, then each agent's wrapped secret.
async fn snapshot(app: &TestApp, o: &Owner, ids: &[&str]) -> Vec<Value> {
    let mut out = vec![get(app, o).await];
    for id in ids {
        out.push(app.agent_detail(o, id).await["wrapped_secret"].clone());
    }
    out
}

async fn kdf_policy_and_first_setup(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    assert_eq!(get(&app, &o).await, json!({"kdf": null, "key_check": null}));
    let wrap = Wrap::new();
    for iterations in [599_999u64, 10_000_001, 0, 1 << 40] {
        let body = json!({"kdf": kdf(iterations), "key_check": wrap.key_check(&o.id)});
        app.put(PATH, &o.token, &body).await.err(422, "weak_kdf");
    }
    for bad in [
        json!({"kdf": {"alg": "PBKDF2-SHA1", "iterations": 600000, "salt": "AAAAAAAAAAAAAAAAAAAAAA"}, "key_check": wrap.key_check(&o.id)}),
        json!({"kdf": kdf(600_000), "key_check": {"v": 1, "alg": "A256GCM"}}),
        json!({"kdf": kdf(600_000)}),
    ] {
        app.put(PATH, &o.token, &bad)
            .await
            .err(400, "invalid_request");
    }
    assert_eq!(get(&app, &o).await, json!({"kdf": null, "key_check": null}));

    let setup = json!({"kdf": kdf(10_000_000), "key_check": wrap.key_check(&o.id)});
    let r = app.put(PATH, &o.token, &setup).await.ok(200);
    assert_eq!(r.json, setup);
    assert_eq!(get(&app, &o).await, setup);
    let setup_min =
        json!({"kdf": kdf(600_000), "key_check": wrap.key_check(&o.id), "password": PASSWORD});
    app.put(PATH, &o.token, &setup_min).await.ok(200);
}

async fn change_needs_the_account_password(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let old = Wrap::new();
    let setup = json!({"kdf": kdf(600_000), "key_check": old.key_check(&o.id)});
    app.put(PATH, &o.token, &setup).await.ok(200);

    let new = Wrap::new();
    let mut change = json!({"kdf": kdf(700_000), "key_check": new.key_check(&o.id)});
    app.put(PATH, &o.token, &change)
        .await
        .err(403, "password_required");
    change["password"] = json!("not the password");
    app.put(PATH, &o.token, &change)
        .await
        .err(403, "wrong_password");
    assert_eq!(get(&app, &o).await, setup);
    change["password"] = json!(PASSWORD);
    app.put(PATH, &o.token, &change).await.ok(200);
    change.as_object_mut().unwrap().remove("password");
    assert_eq!(get(&app, &o).await, change);
}

async fn concurrent_first_setups_cannot_both_win(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let keys: Vec<Wrap> = (0..4).map(|_| Wrap::new()).collect();
    let bodies: Vec<Value> = keys
        .iter()
        .map(|w| json!({"kdf": kdf(600_000), "key_check": w.key_check(&o.id)}))
        .collect();
    let answers =
        futures::future::join_all(bodies.iter().map(|body| app.put(PATH, &o.token, body))).await;
    let won: Vec<&Value> = answers
        .iter()
        .zip(&bodies)
        .filter(|(r, _)| r.status == 200)
        .map(|(_, body)| body)
        .collect();
    // Without the password only the first set-up may succeed; the others would replace
    // an existing key.
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 200) {
        r.err(403, "password_required");
    }
    assert_eq!(&get(&app, &o).await, won[0]);
}

async fn change_rewraps_exactly_the_wrapped_agents_atomically(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "a").await;
    let bee = app.agent(&o, "b").await;
    let unwrapped = app.agent(&o, "c").await;
    let old = Wrap::new();
    // Wrapping needs a master key first.
    app.put(
        &wrapped_path(&a.id),
        &o.token,
        &json!({"wrapped_secret": old.wrapped(&o.id, &a.id)}),
    )
    .await
    .err(409, "conflict");
    let setup = json!({"kdf": kdf(600_000), "key_check": old.key_check(&o.id)});
    app.put(PATH, &o.token, &setup).await.ok(200);
    for agent in [&a, &bee] {
        let r = app
            .put(
                &wrapped_path(&agent.id),
                &o.token,
                &json!({"wrapped_secret": old.wrapped(&o.id, &agent.id)}),
            )
            .await
            .ok(200);
        assert_eq!(r.json["id"], agent.id.as_str());
        assert!(r.json["wrapped_secret"].is_object());
    }
    let ids = [a.id.as_str(), bee.id.as_str(), unwrapped.id.as_str()];
    let before = snapshot(&app, &o, &ids).await;
    assert!(before[3].is_null());

    let new = Wrap::new();
    let change = |ids: &[&str]| {
        json!({
            "kdf": kdf(800_000),
            "key_check": new.key_check(&o.id),
            "password": PASSWORD,
            "wrapped_secrets": ids.iter().map(|id| json!({"agent_id": id, "wrapped_secret": new.wrapped(&o.id, id)})).collect::<Vec<_>>(),
        })
    };
    let missing = uuid::Uuid::new_v4().to_string();
    for named in [
        vec![],
        vec![a.id.as_str()],
        vec![a.id.as_str(), bee.id.as_str(), unwrapped.id.as_str()],
        vec![a.id.as_str(), missing.as_str()],
        vec![a.id.as_str(), a.id.as_str()],
    ] {
        app.put(PATH, &o.token, &change(&named))
            .await
            .err(409, "conflict");
        assert_eq!(
            snapshot(&app, &o, &ids).await,
            before,
            "a refused change altered something"
        );
    }
    let mut no_list = change(&[]);
    no_list.as_object_mut().unwrap().remove("wrapped_secrets");
    app.put(PATH, &o.token, &no_list).await.err(409, "conflict");
    // A malformed wrapped secret among good ones refuses the whole change.
    let mut malformed = change(&[&a.id, &bee.id]);
    malformed["wrapped_secrets"][1]["wrapped_secret"] = json!({"v": 1});
    app.put(PATH, &o.token, &malformed)
        .await
        .err(400, "invalid_request");
    assert_eq!(snapshot(&app, &o, &ids).await, before);

    let good = change(&[&bee.id, &a.id]);
    app.put(PATH, &o.token, &good).await.ok(200);
    let after = snapshot(&app, &o, &ids).await;
    assert_eq!(
        after[0],
        json!({"kdf": good["kdf"], "key_check": good["key_check"]})
    );
    let given = |id: &str| {
        good["wrapped_secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["agent_id"] == id)
            .unwrap()["wrapped_secret"]
            .clone()
    };
    assert_eq!(after[1], given(&a.id));
    assert_eq!(after[2], given(&bee.id));
    assert!(after[3].is_null());
}

async fn wrapped_secret_overwrite_needs_the_password(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "a").await;
    let wrap = Wrap::new();
    app.put(
        PATH,
        &o.token,
        &json!({"kdf": kdf(600_000), "key_check": wrap.key_check(&o.id)}),
    )
    .await
    .ok(200);
    let first = wrap.wrapped(&o.id, &a.id);
    app.put(
        &wrapped_path(&a.id),
        &o.token,
        &json!({"wrapped_secret": first}),
    )
    .await
    .ok(200);
    let second = wrap.wrapped(&o.id, &a.id);
    app.put(
        &wrapped_path(&a.id),
        &o.token,
        &json!({"wrapped_secret": second}),
    )
    .await
    .err(403, "password_required");
    app.put(
        &wrapped_path(&a.id),
        &o.token,
        &json!({"wrapped_secret": second, "password": "guessing wrong"}),
    )
    .await
    .err(403, "wrong_password");
    assert_eq!(app.agent_detail(&o, &a.id).await["wrapped_secret"], first);
    app.put(&wrapped_path(&a.id), &o.token, &json!({"wrapped_secret": {"v": 1, "alg": "A256GCM", "iv": "x", "ct": "y"}, "password": PASSWORD}))
        .await
        .err(400, "invalid_request");
    let r = app
        .put(
            &wrapped_path(&a.id),
            &o.token,
            &json!({"wrapped_secret": second, "password": PASSWORD}),
        )
        .await
        .ok(200);
    assert_eq!(r.json["wrapped_secret"], second);
    assert_eq!(app.agent_detail(&o, &a.id).await["wrapped_secret"], second);
}

async fn concurrent_first_wraps_cannot_both_win(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let a = app.agent(&o, "a").await;
    let wrap = Wrap::new();
    app.put(
        PATH,
        &o.token,
        &json!({"kdf": kdf(600_000), "key_check": wrap.key_check(&o.id)}),
    )
    .await
    .ok(200);
    let bodies: Vec<Value> = (0..4)
        .map(|_| json!({"wrapped_secret": wrap.wrapped(&o.id, &a.id)}))
        .collect();
    let path = wrapped_path(&a.id);
    let answers =
        futures::future::join_all(bodies.iter().map(|body| app.put(&path, &o.token, body))).await;
    let won: Vec<&Value> = answers
        .iter()
        .zip(&bodies)
        .filter(|(r, _)| r.status == 200)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 200) {
        r.err(403, "password_required");
    }
    assert_eq!(
        app.agent_detail(&o, &a.id).await["wrapped_secret"],
        won[0]["wrapped_secret"]
    );
}

/// A wrap says which master key it was made under; once that key is replaced the wrap
/// is refused, whenever it arrives, and nothing is stored.
async fn a_wrap_under_a_replaced_key_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let (old, new) = (Wrap::new(), Wrap::new());
    let (old_check, new_check) = (old.key_check(&o.id), new.key_check(&o.id));
    let setup = json!({"kdf": kdf(600_000), "key_check": old_check});
    app.put(PATH, &o.token, &setup).await.ok(200);
    let a = app.agent(&o, "late").await;
    let change = json!({"kdf": kdf(600_000), "key_check": new_check,
        "wrapped_secrets": [], "password": PASSWORD});
    app.put(PATH, &o.token, &change).await.ok(200);
    let stale = json!({"wrapped_secret": old.wrapped(&o.id, &a.id), "key_check": old_check});
    app.put(&wrapped_path(&a.id), &o.token, &stale)
        .await
        .err(409, "conflict");
    assert!(app.agent_detail(&o, &a.id).await["wrapped_secret"].is_null());
    let current = json!({"wrapped_secret": new.wrapped(&o.id, &a.id), "key_check": new_check});
    app.put(&wrapped_path(&a.id), &o.token, &current)
        .await
        .ok(200);
}

/// First wraps made under the old key, racing a master-key change that (not knowing of
/// them) re-wraps only the other agents: a wrap and the change never both succeed, or
/// that agent's secret would stay wrapped under a key nobody can derive any more.
async fn a_wrap_and_a_key_change_never_both_win(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let mut key = Wrap::new();
    let mut check = key.key_check(&o.id);
    let setup = json!({"kdf": kdf(600_000), "key_check": check});
    app.put(PATH, &o.token, &setup).await.ok(200);
    let mut held: Vec<String> = Vec::new();
    for round in 0..4 {
        let mut fresh = Vec::new();
        for i in 0..6 {
            fresh.push(app.agent(&o, &format!("race-{round}-{i}")).await.id);
        }
        let next = Wrap::new();
        let next_check = next.key_check(&o.id);
        let change = json!({
            "kdf": kdf(600_000),
            "key_check": next_check,
            "password": PASSWORD,
            "wrapped_secrets": held.iter().map(|id| json!({"agent_id": id, "wrapped_secret": next.wrapped(&o.id, id)})).collect::<Vec<_>>(),
        });
        let wraps: Vec<(String, Value)> = fresh
            .iter()
            .map(|id| {
                (
                    wrapped_path(id),
                    json!({"wrapped_secret": key.wrapped(&o.id, id), "key_check": check}),
                )
            })
            .collect();
        let (w, c) = tokio::join!(
            futures::future::join_all(wraps.iter().map(|(p, body)| app.put(p, &o.token, body))),
            app.put(PATH, &o.token, &change)
        );
        let won = w.iter().filter(|r| r.status == 200).count();
        assert!(
            !(won > 0 && c.status == 200),
            "round {round}: {won} wraps under the old key and the key change all succeeded"
        );
        assert!(
            w.iter().all(|r| r.status == 200 || r.status == 409),
            "wraps: {:?}",
            w.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        assert!(c.status == 200 || c.status == 409, "change: {}", c.text);
        if c.status == 200 {
            key = next;
            check = next_check;
        } else {
            held.extend(
                fresh
                    .iter()
                    .zip(&w)
                    .filter(|(_, r)| r.status == 200)
                    .map(|(id, _)| id.clone()),
            );
        }
    }
}
