//! The suite's flows, driven through the subprocess: everything secret the server
//! handles passes through it at least once, including where it does not belong.

use openclaw_fleet_protocol::EncryptionSecret;
use serde_json::{json, Value};

use super::assert_clean;
use super::needles::{forms, found, Needle};
use super::process::{now, Http};
use crate::common::fixtures::{
    config_document, envelope, heartbeat, kdf, random_bytes, signed, Wrap,
};
use crate::common::PASSWORD;

/// The flows of the suite, against a running server. Returns the needles (everything
/// secret it handled) and values that must be found (to prove the search works).
pub async fn exercise(http: &Http) -> (Vec<Needle>, Vec<String>) {
    let mut needles = Vec::new();
    let errors = std::cell::RefCell::new(String::new());
    let expect = |code: u16, got: (u16, Value, String)| {
        assert_eq!(got.0, code, "{}", got.2);
        if code >= 400 {
            errors.borrow_mut().push_str(&got.2);
        }
        got
    };
    let email = "owner@example.com";
    let creds = json!({"email": email, "password": PASSWORD});
    expect(
        201,
        http.call("POST", "/api/auth/register", "", Some(&creds))
            .await,
    );
    let wrong_password = "wrong horse battery staple";
    let wrong = json!({"email": email, "password": wrong_password});
    expect(
        401,
        http.call("POST", "/api/auth/login", "", Some(&wrong)).await,
    );
    let (_, login, _) = expect(
        200,
        http.call("POST", "/api/auth/login", "", Some(&creds)).await,
    );
    let session = login["token"].as_str().unwrap().to_string();
    let user_id = login["user"]["id"].as_str().unwrap().to_string();
    let (_, second, _) = expect(
        200,
        http.call("POST", "/api/auth/login", "", Some(&creds)).await,
    );
    let logged_out = second["token"].as_str().unwrap().to_string();
    expect(
        204,
        http.call("POST", "/api/auth/logout", &logged_out, None)
            .await,
    );

    let (_, fleet, _) = expect(
        201,
        http.call(
            "POST",
            "/api/fleets",
            &session,
            Some(&json!({"name": "prod"})),
        )
        .await,
    );
    let mut agents = Vec::new();
    let mut created_text = String::new();
    for name in ["a", "b", "c"] {
        let body = json!({"name": name, "fleet_id": fleet["id"]});
        let (_, created, text) = expect(
            201,
            http.call("POST", "/api/agents", &session, Some(&body))
                .await,
        );
        created_text.push_str(&text);
        let id = created["agent"]["id"].as_str().unwrap().to_string();
        let secret = created["agent_secret"].as_str().unwrap().to_string();
        needles.extend(forms(&format!("agent secret of {name}"), &secret));
        agents.push((id, secret));
    }
    let (a, a_secret) = agents[0].clone();
    let (b, b_secret) = agents[1].clone();
    let (c, _) = agents[2].clone();

    // Handshakes: good, replayed, integer timestamp, wrong secret, plaintext secrets.
    let hs = |body: Value| async move {
        http.call("POST", "/api/agents/handshake", "", Some(&body))
            .await
    };
    let t0 = now();
    let body = signed(&a, &a_secret, t0);
    let (_, ok, _) = expect(200, hs(body.clone()).await);
    let a_token = ok["token"].as_str().unwrap().to_string();
    expect(401, hs(body).await);
    // Another second than the first signature's, even if the clock has ticked since.
    let ts = t0 - 1;
    let mut int_body = signed(&a, &a_secret, ts);
    int_body["timestamp"] = json!(ts);
    expect(200, hs(int_body).await);
    expect(401, hs(signed(&a, &b_secret, now())).await);
    let mut leaky = signed(&a, &a_secret, now() - 2);
    leaky["agent_secret"] = json!(a_secret);
    expect(400, hs(leaky).await);
    expect(
        400,
        hs(json!({"agent_id": a, "timestamp": now(), "signature": a_secret})).await,
    );
    expect(
        400,
        hs(json!({"agent_id": a_secret, "timestamp": now()})).await,
    );

    // Heartbeats, including ones that carry the secret where it does not belong.
    let hb = heartbeat(&a, "healthy", json!({"cpu_usage": 3, "memory_usage": 4}));
    expect(
        200,
        http.call("POST", "/api/heartbeat", &a_token, Some(&hb))
            .await,
    );
    let mut bad = hb.clone();
    bad["error"] = json!(a_secret);
    expect(
        400,
        http.call("POST", "/api/heartbeat", &a_token, Some(&bad))
            .await,
    );
    let mut bad = hb.clone();
    bad["metrics"] = json!({ a_secret.clone(): 1 });
    expect(
        400,
        http.call("POST", "/api/heartbeat", &a_token, Some(&bad))
            .await,
    );
    expect(
        401,
        http.call("POST", "/api/heartbeat", &a_secret, Some(&hb))
            .await,
    );
    let leak_login = json!({"email": email, "password": a_secret});
    expect(
        401,
        http.call("POST", "/api/auth/login", "", Some(&leak_login))
            .await,
    );
    for leak_body in [
        json!({"name": 5, "note": a_secret}),
        json!({ a_secret.clone(): "x" }),
        json!({"name": [a_secret]}),
        json!({"name": {a_secret.clone(): 1}}),
    ] {
        let r = http
            .call("POST", "/api/fleets", &session, Some(&leak_body))
            .await;
        expect(400, r);
    }
    for leak_query in [
        format!("/api/agents?fleet_id={a_secret}&status={a_secret}"),
        format!("/api/agents?page={a_secret}"),
        format!("/api/agents?{a_secret}=1"),
    ] {
        expect(400, http.call("GET", &leak_query, &session, None).await);
    }
    expect(
        404,
        http.call("GET", &format!("/api/agents/{a_secret}"), &session, None)
            .await,
    );

    // Master key, a wrapped secret, and an end-to-end encrypted config.
    let wrap = Wrap::new();
    let setup = json!({"kdf": kdf(600_000), "key_check": wrap.key_check(&user_id)});
    expect(
        200,
        http.call("PUT", "/api/me/master-key", &session, Some(&setup))
            .await,
    );
    let wrapped = json!({"wrapped_secret": wrap.wrapped(&user_id, &a)});
    expect(
        200,
        http.call(
            "PUT",
            &format!("/api/agents/{a}/wrapped-secret"),
            &session,
            Some(&wrapped),
        )
        .await,
    );
    let es = EncryptionSecret::generate();
    let marker = hex::encode(random_bytes::<20>());
    let doc = config_document(&marker);
    needles.extend(forms("config API key", &format!("sk-ant-{marker}")));
    needles.extend(forms("config document", &doc.to_string()));
    let env = envelope(&es, &a, 1, &doc);
    expect(
        200,
        http.call(
            "PUT",
            &format!("/api/agents/{a}/config"),
            &session,
            Some(&json!({"config": env})),
        )
        .await,
    );
    let (_, got, _) = expect(
        200,
        http.call("GET", &format!("/api/agents/{a}/config"), &a_token, None)
            .await,
    );
    assert_eq!(got["config"], env);
    // Two more versions, one a restore: every envelope is kept in the history, and each
    // must be stored under the at-rest layer (its ciphertext never appears as sent).
    let mut envelopes = vec![env];
    for (version, restored_from) in [(2, None), (3, Some(1))] {
        let marker = hex::encode(random_bytes::<20>());
        let doc = config_document(&marker);
        needles.extend(forms("config API key", &format!("sk-ant-{marker}")));
        let env = envelope(&es, &a, version, &doc);
        let body = json!({"config": env, "restored_from": restored_from});
        expect(
            200,
            http.call(
                "PUT",
                &format!("/api/agents/{a}/config"),
                &session,
                Some(&body),
            )
            .await,
        );
        envelopes.push(env);
    }
    let (_, history, _) = expect(
        200,
        http.call(
            "GET",
            &format!("/api/agents/{a}/config/history"),
            &session,
            None,
        )
        .await,
    );
    assert_eq!(history["versions"].as_array().unwrap().len(), 3);
    let (_, first, _) = expect(
        200,
        http.call(
            "GET",
            &format!("/api/agents/{a}/config/history/1"),
            &session,
            None,
        )
        .await,
    );
    assert_eq!(first["config"], envelopes[0]);
    for (i, env) in envelopes.iter().enumerate() {
        let ct = env["ct"].as_str().unwrap();
        needles.extend(forms(&format!("envelope {} ciphertext", i + 1), ct));
    }

    // Rotation, a session under the new secret, a deletion.
    let (_, rotated, _) = expect(
        200,
        http.call(
            "POST",
            &format!("/api/agents/{b}/rotate-secret"),
            &session,
            None,
        )
        .await,
    );
    let b_new = rotated["agent_secret"].as_str().unwrap().to_string();
    needles.extend(forms("rotated agent secret", &b_new));
    expect(401, hs(signed(&b, &b_secret, now())).await);
    let (_, ok, _) = expect(200, hs(signed(&b, &b_new, now())).await);
    let b_token = ok["token"].as_str().unwrap().to_string();
    let hb = heartbeat(&b, "idle", json!({}));
    expect(
        200,
        http.call("POST", "/api/heartbeat", &b_token, Some(&hb))
            .await,
    );
    expect(
        204,
        http.call("DELETE", &format!("/api/agents/{c}"), &session, None)
            .await,
    );
    expect(
        200,
        http.call("GET", &format!("/api/agents/{a}"), &session, None)
            .await,
    );

    // An alert rule whose webhook URL carries a token, and a notice sent through it: the
    // URL and the signing secret are secrets too.
    let rx = crate::alerts::receiver::Receiver::start(1).await;
    let hook_token = format!("T0{}", hex::encode(random_bytes::<16>()));
    let (_, created, text) = expect(
        201,
        http.call(
            "POST",
            "/api/alerts/rules",
            &session,
            Some(&json!({
                "name": "alert",
                "condition": "status_error",
                "webhook": { "kind": "slack", "url": format!("{}/services/{hook_token}", rx.base) },
            })),
        )
        .await,
    );
    let signing = created["signing_secret"].as_str().unwrap().to_string();
    needles.extend(forms("webhook signing secret", &signing));
    needles.extend(forms("webhook URL token", &hook_token));
    assert!(found(text.as_bytes(), &needles)
        .iter()
        .any(|h| h.starts_with("webhook signing secret (text raw")));
    let hb = heartbeat(&b, "error", json!({}));
    expect(
        200,
        http.call("POST", "/api/heartbeat", &b_token, Some(&hb))
            .await,
    );
    let hits = rx.wait_for(1).await;
    assert_eq!(hits[0].path, format!("/services/{hook_token}"));
    assert_eq!(rx.hits().len(), 2, "a 500 first, then the retry");

    // Ed25519 (SPEC-identity): b switches, enrolls a key made here, and handshakes with
    // it; one enroll body carries the identity key where it does not belong.
    let (_, issued, _) = expect(
        200,
        http.call(
            "POST",
            &format!("/api/agents/{b}/enrollment-token"),
            &session,
            None,
        )
        .await,
    );
    let enrollment = issued["enrollment_token"].as_str().unwrap().to_string();
    needles.extend(forms("enrollment token", &enrollment));
    let key = openclaw_fleet_protocol::IdentityKey::generate();
    needles.extend(forms("identity key", key.to_encoded_secret().as_str()));
    let b_id = openclaw_fleet_protocol::AgentId::parse(&b).unwrap();
    let enroll = |body: Value| async move {
        http.call("POST", "/api/agents/enroll", "", Some(&body))
            .await
    };
    let token = openclaw_fleet_protocol::EnrollmentToken::parse(&enrollment).unwrap();
    let mut leaky = openclaw_fleet_protocol::enroll_body(&b_id, &token, &key, now() as u64);
    leaky["identity_key"] = json!(key.to_encoded_secret().as_str());
    expect(400, enroll(leaky).await);
    let body = openclaw_fleet_protocol::enroll_body(&b_id, &token, &key, now() as u64);
    expect(200, enroll(body.clone()).await);
    expect(401, enroll(body).await);
    let ed_body = openclaw_fleet_protocol::handshake_body_ed25519(&b_id, now() as u64, &key);
    let (_, ok, _) = expect(200, hs(ed_body).await);
    let b_ed_token = ok["token"].as_str().unwrap().to_string();
    expect(401, hs(signed(&b, &b_new, now() - 3)).await);

    for (what, token) in [
        ("Ed25519 agent's token", &b_ed_token),
        ("owner session", &session),
        ("ended owner session", &logged_out),
        ("agent token", &a_token),
        ("rotated agent's token", &b_token),
    ] {
        needles.extend(forms(what, token));
    }
    needles.extend(forms("account password", PASSWORD));
    needles.extend(forms("wrong password", wrong_password));

    // No error answer repeats what the request carried.
    assert_clean("the error answers", errors.borrow().as_bytes(), &needles);
    // The search finds what is there: the secrets in the creation answers.
    let hits = found(created_text.as_bytes(), &needles);
    assert!(
        hits.iter()
            .any(|h| h.starts_with("agent secret of a (text raw")),
        "{hits:?}"
    );
    assert!(
        hits.iter()
            .any(|h| h.starts_with("agent secret of c (text raw")),
        "{hits:?}"
    );
    (needles, vec![a, email.to_string()])
}
