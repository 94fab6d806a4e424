//! Heartbeat history as rollups (`access::rollups`): the 1-minute, 5-minute and hourly
//! buckets hold the count, average and maximum of exactly their samples; rolling a
//! window again writes the same rows; two replicas rolling at once leave one result;
//! each resolution is pruned to its retention, and raw samples a roll-up has not reached
//! are kept; the history endpoint reads the resolution that fits its window, up to the
//! present; another owner's agent's history is 404. A pass rolls its window a slice of
//! agents at a time: every agent is rolled, a pass cut off halfway goes on from its
//! slice, and its window is read from the raw samples until it ends. Time moves by the
//! test clock.

use openclaw_fleet::access::rollups::{FIVE_MINUTES_KEEP, GRACE, MINUTE_KEEP, RAW_KEEP};
use openclaw_fleet::store::Resolution;
use serde_json::{json, Value};

use crate::common::db::{Db, RollupRow};
use crate::common::fixtures::heartbeat;
use crate::common::{Agent, Backend, Owner, TestApp};

both_backends!(
    rollups_hold_the_count_average_and_maximum_of_their_samples,
    rolling_a_window_again_writes_the_same_rows,
    two_replicas_rolling_at_once_leave_one_result,
    a_pass_in_slices_rolls_up_every_agent,
    a_pass_cut_off_goes_on_from_its_slice_and_is_read_only_when_done,
    retention_prunes_each_resolution_after_its_roll_up,
    the_history_endpoint_reads_the_resolution_that_fits_its_window,
    another_owners_agent_history_is_not_found,
);

/// Samples sent: 12 minutes at one every 10 s.
const SAMPLES: i64 = 72;

/// The metrics of sample `i` (latency only in the first six minutes).
fn metrics(i: i64) -> Value {
    let mut m = json!({
        "cpu_usage": (i * 7 % 100) as f64,
        "memory_usage": 40.0 + (i % 5) as f64,
        "disk_usage": 50.0,
    });
    if i < 36 {
        m["latency_ms"] = json!(i as f64 / 4.0);
    }
    m
}

/// The expected rows of `res` over samples `0..SAMPLES` starting at `start` (an hour
/// boundary), computed here from the samples themselves.
fn expected(key: i64, start: i64, res: Resolution) -> Vec<RollupRow> {
    let step = res.step();
    let mut rows = Vec::new();
    let mut bucket = start;
    while bucket < start + SAMPLES * 10 {
        let members: Vec<Value> = (0..SAMPLES)
            .filter(|i| start + i * 10 >= bucket && start + i * 10 < bucket + step)
            .map(metrics)
            .collect();
        let mut values = Vec::new();
        for m in ["cpu_usage", "memory_usage", "disk_usage", "latency_ms"] {
            let v: Vec<f64> = members.iter().filter_map(|s| s[m].as_f64()).collect();
            let n = v.len() as f64;
            values.push((!v.is_empty()).then(|| v.iter().sum::<f64>() / n));
            values.push(v.iter().copied().reduce(f64::max));
            values.push(Some(n));
        }
        rows.push((key, bucket, members.len() as i64, values));
        bucket += step;
    }
    rows
}

#[track_caller]
fn assert_rows(got: &[RollupRow], want: &[RollupRow]) {
    assert_eq!(got.len(), want.len(), "{got:?}\nvs\n{want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0, g.1, g.2), (w.0, w.1, w.2), "{g:?} vs {w:?}");
        for (a, b) in g.3.iter().zip(&w.3) {
            match (a, b) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{g:?} vs {w:?}"),
                _ => assert_eq!(a, b, "{g:?} vs {w:?}"),
            }
        }
    }
}

/// An owner and agent, and the agent's samples `0..SAMPLES`, one every 10 s from the
/// next hour boundary on. Returns the boundary.
async fn seed(app: &TestApp) -> (Owner, Agent, i64) {
    let owner = app.first_owner().await;
    let a = app.agent(&owner, "a").await;
    let start = app.now() - app.now() % 3600 + 3600;
    app.clock.set(start - 1);
    let token = app.agent_token(&a).await;
    assert_eq!(app.now(), start);
    send(app, &token, &a, 0..SAMPLES).await;
    (owner, a, start)
}

async fn send(app: &TestApp, token: &str, a: &Agent, samples: std::ops::Range<i64>) {
    for i in samples {
        app.heartbeat(token, &heartbeat(&a.id, "healthy", metrics(i)))
            .await
            .ok(200);
        app.clock.advance(10);
    }
}

/// Every rollup table's rows.
async fn all_rollups(db: &mut Db) -> Vec<Vec<RollupRow>> {
    let mut all = Vec::new();
    for res in Resolution::ROLLUPS {
        all.push(db.rollups(res).await);
    }
    all
}

async fn rollups_hold_the_count_average_and_maximum_of_their_samples(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, a, start) = seed(&app).await;
    // The hour the samples are in ends, and its last minute's grace passes.
    app.clock.set(start + 3600 + GRACE);
    let marks = app.state.roll_up_history().await.unwrap();
    assert_eq!(marks.minute, start + 3600);
    assert_eq!(marks.hour, start + 3600);
    let mut db = Db::open(&app).await;
    let key = db.key(&a.id).await;
    for res in Resolution::ROLLUPS {
        assert_rows(&db.rollups(res).await, &expected(key, start, res));
    }
}

async fn rolling_a_window_again_writes_the_same_rows(b: Backend) {
    let app = TestApp::spawn(b).await;
    seed(&app).await;
    app.clock.advance(3600);
    app.state.roll_up_history().await.unwrap();
    let mut db = Db::open(&app).await;
    let first = all_rollups(&mut db).await;
    assert!(first.iter().all(|rows| !rows.is_empty()));
    // Once more from the start, over rows someone damaged: the same rows again.
    db.exec(
        "UPDATE metrics_1m SET samples = 999, cpu_avg = -1; \
         UPDATE metrics_5m SET cpu_max = NULL; UPDATE metrics_1h SET samples = 0; \
         UPDATE metrics_rollups SET done_until = 0",
    )
    .await;
    app.state.roll_up_history().await.unwrap();
    assert_eq!(all_rollups(&mut db).await, first);
    // And a run with nothing new changes nothing.
    app.state.roll_up_history().await.unwrap();
    assert_eq!(all_rollups(&mut db).await, first);
}

/// PostgreSQL: two replicas of one database roll up at the same moment, a slice of two
/// agents at a time (so they take turns within each pass). SQLite (one server): two
/// roll-ups of the same server at once.
async fn two_replicas_rolling_at_once_leave_one_result(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.history_rollup_slice = 2).await;
    let (_, agents, start) = seed_many(&app).await;
    // Written before replica B starts: a replica rolls up at start (housekeeping), and the
    // seed's hour of samples, stamped by a test clock that ran ahead of real time, would
    // otherwise still be in A's memory, younger than the flusher's 250 ms, while B marks
    // their minutes done (CI: no rows). In a real fleet a sample is that young only within
    // the last second, far inside the roll-up's grace.
    app.state.flush_heartbeats().await.unwrap();
    let other = match b {
        Backend::Postgres => Some(app.replica().await),
        Backend::Sqlite => None,
    };
    let second = other.as_ref().map_or(&app.state, |r| &r.state);
    app.clock.set(start + 3600 + GRACE);
    // (What the flusher would have written within 250 ms, long before the grace ends.)
    app.state.flush_heartbeats().await.unwrap();
    let (one, two) = tokio::join!(app.state.roll_up_history(), second.roll_up_history());
    assert_eq!(one.unwrap(), two.unwrap());
    assert_every_agent_rolled(&app, &agents, start, 0).await;
}

/// Agents of the sliced tests: three slices at `history_rollup_slice` 2.
const AGENTS: usize = 5;

/// `AGENTS` agents of one owner, each sending samples `0..SAMPLES`, one every 10 s from
/// the next hour boundary on. Returns their owner, them and the boundary.
async fn seed_many(app: &TestApp) -> (Owner, Vec<Agent>, i64) {
    let owner = app.first_owner().await;
    let start = app.now() - app.now() % 3600 + 3600;
    app.clock.set(start - AGENTS as i64 - 1);
    let mut agents = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..AGENTS {
        let a = app.agent(&owner, &format!("a{n}")).await;
        tokens.push(app.agent_token(&a).await);
        agents.push(a);
    }
    app.clock.set(start);
    for i in 0..SAMPLES {
        for (a, token) in agents.iter().zip(&tokens) {
            app.heartbeat(token, &heartbeat(&a.id, "healthy", metrics(i)))
                .await
                .ok(200);
        }
        app.clock.advance(10);
    }
    (owner, agents, start)
}

/// Every agent's rows in every rollup are exactly its samples' (for the agents whose key
/// is below `skipped_below`: the minutes from the cut-off pass's window on), and no pass
/// is left under way.
async fn assert_every_agent_rolled(
    app: &TestApp,
    agents: &[Agent],
    start: i64,
    skipped_below: i64,
) {
    let mut db = Db::open(app).await;
    for a in agents {
        let key = db.key(&a.id).await;
        for res in Resolution::ROLLUPS {
            let got: Vec<RollupRow> = db
                .rollups(res)
                .await
                .into_iter()
                .filter(|r| r.0 == key)
                .collect();
            let mut want = expected(key, start, res);
            if key < skipped_below {
                // Their minutes before the window's end are missing; what the coarser
                // resolutions made of that is not this test's business.
                if res != Resolution::Minute {
                    continue;
                }
                want.retain(|r| r.1 >= start + CUT_WINDOW);
            }
            assert_rows(&got, &want);
        }
    }
    let passes = db
        .int("SELECT COUNT(*) FROM metrics_rollups WHERE pass_until <> 0")
        .await;
    assert_eq!(passes, 0, "a pass left under way");
}

async fn a_pass_in_slices_rolls_up_every_agent(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.history_rollup_slice = 2).await;
    let (_, agents, start) = seed_many(&app).await;
    app.clock.set(start + 3600 + GRACE);
    let marks = app.state.roll_up_history().await.unwrap();
    assert_eq!((marks.minute, marks.hour), (start + 3600, start + 3600));
    assert_every_agent_rolled(&app, &agents, start, 0).await;
}

/// The window of the cut-off pass: the first ten minutes (a pass's most).
const CUT_WINDOW: i64 = 600;

/// A server stopped halfway through a minute pass: the rows of the agents from the third
/// on are not written yet (here: wrong ones, which the pass must replace). Until the pass
/// ends, the charts read its window from the raw samples, not from the rows it is writing;
/// the next roll-up goes on from the third agent's slice rather than starting over (the
/// first two agents' rows, removed here, stay missing: that is how the test sees where it
/// went on from). A housekeeping roll-up of the server's own may run at any point here and
/// goes on from the same slice.
async fn a_pass_cut_off_goes_on_from_its_slice_and_is_read_only_when_done(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.history_rollup_slice = 2;
        s.session_ttl_secs = 7 * 86400;
    })
    .await;
    let (owner, agents, start) = seed_many(&app).await;
    app.state.flush_heartbeats().await.unwrap();
    let mut db = Db::open(&app).await;
    let third = db.key(&agents[2].id).await;
    db.exec(&format!(
        "DELETE FROM metrics_1m WHERE bucket >= {start}; \
         INSERT INTO metrics_1m (agent_key, bucket, samples, cpu_n, memory_n, disk_n, latency_n) \
         SELECT agent_key, {start}, 999, 0, 0, 0, 0 FROM metrics_keys WHERE agent_key >= {third}; \
         UPDATE metrics_rollups SET done_until = {start}, pass_until = {end}, pass_key = {third} \
         WHERE step = 60",
        end = start + CUT_WINDOW
    ))
    .await;
    app.clock.set(start + SAMPLES * 10 + 3600);
    let (res, samples, _) = window(&app, &owner, &agents[AGENTS - 1], 6 * 3600).await;
    assert_eq!((res, samples), (60, SAMPLES), "every sample, once");

    app.state.roll_up_history().await.unwrap();
    assert_every_agent_rolled(&app, &agents, start, third).await;
}

async fn count(db: &mut Db, res: Resolution, key: i64) -> i64 {
    db.int(&format!(
        "SELECT COUNT(*) FROM {} WHERE agent_key = {key}",
        res.table()
    ))
    .await
}

async fn retention_prunes_each_resolution_after_its_roll_up(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, a, start) = seed(&app).await;
    let mut db = Db::open(&app).await;
    let key = db.key(&a.id).await;
    let end = start + SAMPLES * 10;

    // Past the raw retention with nothing rolled up (a server that was down): pruning
    // keeps what no roll-up has reached, and the roll-up that follows has every sample.
    app.clock.set(end + RAW_KEEP + 60);
    app.state.prune_history().await.unwrap();
    app.state.roll_up_history().await.unwrap();
    assert_rows(
        &db.rollups(Resolution::Minute).await,
        &expected(key, start, Resolution::Minute),
    );
    app.state.maintain().await.unwrap();
    assert_eq!(count(&mut db, Resolution::Raw, key).await, 0);
    assert_eq!(count(&mut db, Resolution::Minute, key).await, 12);

    // Each coarser resolution outlives the finer one.
    let stages = [
        (end + MINUTE_KEEP + 60, [0, 0, 3, 1]),
        (end + FIVE_MINUTES_KEEP + 60, [0, 0, 0, 1]),
        (end + 30 * 86400 + 60, [0, 0, 0, 0]),
    ];
    for (at, want) in stages {
        app.clock.set(at);
        app.state.maintain().await.unwrap();
        let mut got = Vec::new();
        for res in [
            Resolution::Raw,
            Resolution::Minute,
            Resolution::FiveMinutes,
            Resolution::Hour,
        ] {
            got.push(count(&mut db, res, key).await);
        }
        assert_eq!(got, want, "at {}", at - end);
    }
}

/// The points of a window: its resolution, and the samples they count.
async fn window(app: &TestApp, owner: &Owner, a: &Agent, secs: i64) -> (i64, i64, Vec<Value>) {
    let r = app
        .get(
            &format!("/api/agents/{}/metrics?since={}", a.id, app.now() - secs),
            &owner.token,
        )
        .await
        .ok(200);
    let points = r.json["points"].as_array().unwrap().clone();
    let samples = points.iter().map(|p| p["samples"].as_i64().unwrap()).sum();
    (r.json["resolution"].as_i64().unwrap(), samples, points)
}

async fn the_history_endpoint_reads_the_resolution_that_fits_its_window(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.session_ttl_secs = 7 * 86400).await;
    let (owner, a, start) = seed(&app).await;
    // Rolled up to the end of the samples; then six more minutes not rolled up yet.
    app.clock.set(start + SAMPLES * 10 + GRACE);
    app.state.roll_up_history().await.unwrap();
    let token = app.agent_token(&a).await;
    send(&app, &token, &a, SAMPLES..SAMPLES + 36).await;
    let sent = SAMPLES + 36;

    let highest = (0..sent)
        .map(|i| metrics(i)["cpu_usage"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let (res, samples, _) = window(&app, &owner, &a, 3600).await;
    assert_eq!((res, samples), (0, sent));
    for (secs, want) in [(6 * 3600, 60), (86400, 300), (30 * 86400, 3600)] {
        let (res, samples, points) = window(&app, &owner, &a, secs).await;
        assert_eq!(res, want, "window {secs}");
        // Rolled-up buckets and the raw samples after them: every sample, once.
        assert_eq!(samples, sent, "window {secs}");
        let cpu_max = points
            .iter()
            .filter_map(|p| p["max"]["cpu_usage"].as_f64())
            .fold(0.0, f64::max);
        assert_eq!(cpu_max, highest, "window {secs}");
    }
    // A day later, with the raw samples pruned, the day's window still draws them all.
    app.clock.advance(86400 - 3600);
    app.state.maintain().await.unwrap();
    let mut db = Db::open(&app).await;
    assert_eq!(db.samples(&a.id).await, 0);
    let (res, samples, _) = window(&app, &owner, &a, 86400).await;
    assert_eq!((res, samples), (300, sent));
}

async fn another_owners_agent_history_is_not_found(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, a, _) = seed(&app).await;
    let intruder = app.other_owner("intruder@example.com").await;
    for secs in [3600, 86400, 30 * 86400] {
        app.get(
            &format!("/api/agents/{}/metrics?since={}", a.id, app.now() - secs),
            &intruder.token,
        )
        .await
        .err(404, "not_found");
    }
    app.get(
        "/api/agents/00000000-0000-4000-8000-000000000000/metrics",
        &intruder.token,
    )
    .await
    .err(404, "not_found");
}
