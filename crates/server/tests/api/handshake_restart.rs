//! What a handshake leaves behind once it is answered: its used signature is committed
//! (a crash right after the answer cannot make it usable again), while the secret's last
//! use is telemetry, shown at once and written by the next flush, and never outlives a
//! rotation (the new secret shows "never used" until it is used).

use serde_json::Value;

use crate::common::fixtures::signed;
use crate::common::Backend;
use crate::handshake::setup;

both_backends!(
    a_replay_after_a_crash_is_refused,
    a_secrets_last_use_is_shown_and_does_not_outlive_a_rotation,
);

async fn a_replay_after_a_crash_is_refused(b: Backend) {
    let (app, _, agent) = setup(b).await;
    let body = signed(&agent.id, &agent.secret, app.now());
    app.handshake(&body).await.ok(200);
    // Crashed right after answering: nothing flushed, nothing drained.
    let app = app.crash_restart().await;
    app.handshake(&body).await.err(401, "replayed");
    // And on a replica started after the crash.
    let other = app.replica().await;
    other.handshake(&body).await.err(401, "replayed");
}

async fn a_secrets_last_use_is_shown_and_does_not_outlive_a_rotation(b: Backend) {
    let (app, owner, agent) = setup(b).await;
    app.handshake(&signed(&agent.id, &agent.secret, app.now()))
        .await
        .ok(200);
    let t0 = app.now();
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        t0
    );
    app.clock.advance(5);
    app.handshake(&signed(&agent.id, &agent.secret, app.now()))
        .await
        .ok(200);
    let t1 = app.now();
    // Shown at once (from memory or the database, whichever has it).
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        t1
    );
    // A rotation right after the use, before it is flushed: the new secret was never used,
    // in the view and in the database after the flush.
    let rotated = app.rotate_secret(&owner, &agent).await;
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        Value::Null
    );
    app.state.flush_heartbeats().await.unwrap();
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        Value::Null
    );
    let other = app.replica().await;
    assert_eq!(
        other.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        Value::Null
    );
    // The new secret's first use is shown, and written by the flush: another replica
    // (which has nothing in memory) and a restarted server read it from the database.
    app.clock.advance(2);
    let t2 = app.now();
    app.handshake(&signed(&agent.id, &rotated, t2))
        .await
        .ok(200);
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        t2
    );
    app.state.flush_heartbeats().await.unwrap();
    assert_eq!(
        other.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        t2
    );
    drop(other);
    let app = app.restart().await;
    assert_eq!(
        app.agent_detail(&owner, &agent.id).await["secret_last_used_at"],
        t2
    );
}
