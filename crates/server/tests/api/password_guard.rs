//! The account password that sensitive changes ask for (a master-key change, a wrapped
//! secret overwrite) cannot be guessed with a stolen session: checks count per account,
//! a burst included, and past the limit even the right password waits for the window.

use serde_json::{json, Value};

use crate::common::fixtures::{kdf, Wrap};
use crate::common::{Backend, Owner, TestApp, PASSWORD};

both_backends!(a_stolen_session_cannot_guess_the_account_password);

const LIMIT: usize = 5;
const WINDOW: i64 = 15 * 60;
const MASTER_KEY: &str = "/api/me/master-key";

async fn with_master_key(app: &TestApp, o: &Owner) -> Value {
    let setup = json!({"kdf": kdf(600_000), "key_check": Wrap::new().key_check(&o.id)});
    app.put(MASTER_KEY, &o.token, &setup).await.ok(200);
    setup
}

async fn a_stolen_session_cannot_guess_the_account_password(b: Backend) {
    let app = TestApp::spawn(b).await;
    let o = app.first_owner().await;
    let other = app.other_owner("other@example.com").await;
    let setup = with_master_key(&app, &o).await;
    with_master_key(&app, &other).await;
    let agent = app.agent(&o, "a").await;
    let wrap = Wrap::new();
    let wrapped_path = format!("/api/agents/{}/wrapped-secret", agent.id);
    let first = wrap.wrapped(&o.id, &agent.id);
    app.put(&wrapped_path, &o.token, &json!({"wrapped_secret": first}))
        .await
        .ok(200);
    let change = |password: &str| {
        json!({"kdf": kdf(700_000), "key_check": Wrap::new().key_check(&o.id),
               "wrapped_secrets": [{"agent_id": agent.id, "wrapped_secret": wrap.wrapped(&o.id, &agent.id)}],
               "password": password})
    };
    let overwrite = |password: &str| json!({"wrapped_secret": wrap.wrapped(&o.id, &agent.id), "password": password});

    // A success forgives earlier failures.
    for i in 0..LIMIT - 1 {
        app.put(MASTER_KEY, &o.token, &change(&format!("guess {i}")))
            .await
            .err(403, "wrong_password");
    }
    app.put(&wrapped_path, &o.token, &overwrite(PASSWORD))
        .await
        .ok(200);
    let current = app.agent_detail(&o, &agent.id).await["wrapped_secret"].clone();

    // A burst of guesses through both routes: exactly the limit is checked.
    let guesses = (0..20).map(|i| {
        let (path, body) = if i % 2 == 0 {
            (MASTER_KEY, change(&format!("guess {i}")))
        } else {
            (wrapped_path.as_str(), overwrite(&format!("guess {i}")))
        };
        let app = &app;
        let token = o.token.clone();
        async move { app.put(path, &token, &body).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 403).count();
    assert_eq!(
        checked,
        LIMIT,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 403) {
        r.err(429, "rate_limited");
        assert!(r.retry_after() <= WINDOW as u64);
    }
    // Past the limit the right password is refused too, and nothing changed.
    app.put(MASTER_KEY, &o.token, &change(PASSWORD))
        .await
        .err(429, "rate_limited");
    assert_eq!(app.get(MASTER_KEY, &o.token).await.ok(200).json, setup);
    assert_eq!(
        app.agent_detail(&o, &agent.id).await["wrapped_secret"],
        current
    );
    // Another account is not affected.
    let other_change = json!({"kdf": kdf(700_000), "key_check": Wrap::new().key_check(&other.id),
                              "password": PASSWORD});
    app.put(MASTER_KEY, &other.token, &other_change)
        .await
        .ok(200);
    // The window ends.
    app.clock.advance(WINDOW);
    app.put(MASTER_KEY, &o.token, &change(PASSWORD))
        .await
        .ok(200);
}
