//! Replicas started at the same moment on one empty database: the first internal key
//! recorded wins, a replica holding another key refuses to start (naming key ids only,
//! never key material) and leaves no key file behind; replicas given one key all start.
//! Whichever read of the key record a replica loses — before or after the other's write —
//! it must refuse.

use std::path::{Path, PathBuf};

use openclaw_fleet::crypto::InternalKey;
use openclaw_fleet::{Server, Settings};

use crate::common::{Backend, PgDatabase};

both_backends!(
    replicas_starting_at_once_keep_one_internal_key,
    the_first_claim_of_a_meta_key_stays,
    replicas_given_one_key_start_together,
);

/// Attempts, and replicas started at once in each: the race is between their reads of
/// an empty key record and their writes of one.
const ROUNDS: usize = 4;
const REPLICAS: usize = 3;

/// An empty database (no schema yet) and where each replica keeps its data dir.
async fn fresh(b: Backend, tmp: &Path) -> (String, Option<PgDatabase>) {
    match b {
        Backend::Sqlite => (
            format!("sqlite://{}", tmp.join("shared.db").display()),
            None,
        ),
        Backend::Postgres => {
            let pg = PgDatabase::create().await;
            (pg.url.clone(), Some(pg))
        }
    }
}

fn settings(url: &str, data_dir: PathBuf, key_file: Option<PathBuf>) -> Settings {
    Settings {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir,
        database_url: Some(url.to_string()),
        internal_encryption_key_file: key_file,
        ..Settings::default()
    }
}

fn key_id_in(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("internal.key")).expect("key file");
    InternalKey::parse_hex(&text).expect("key").id().to_string()
}

async fn replicas_starting_at_once_keep_one_internal_key(b: Backend) {
    for round in 0..ROUNDS {
        let tmp = tempfile::tempdir().unwrap();
        let (url, _pg) = fresh(b, tmp.path()).await;
        if round > 0 {
            // Schema made, no key yet: the replicas reach the key step together.
            openclaw_fleet::store::connect(&url).await.expect("schema");
        }
        let dirs: Vec<PathBuf> = (0..REPLICAS)
            .map(|i| tmp.path().join(format!("r{i}")))
            .collect();
        let starts = dirs
            .iter()
            .map(|dir| Server::build(settings(&url, dir.clone(), None), None));
        let results = futures::future::join_all(starts).await;
        let started: Vec<&Server> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(
            started.len(),
            1,
            "round {round}: {} replicas started with {} different internal keys",
            started.len(),
            REPLICAS
        );
        let winner_id = key_id_in(&started[0].state().settings().data_dir);
        let store = openclaw_fleet::store::connect(&url).await.unwrap();
        assert_eq!(
            store.meta("key_id").await.unwrap().as_deref(),
            Some(winner_id.as_str())
        );
        assert!(started[0].state().ready().await);
        for (dir, result) in dirs.iter().zip(&results) {
            let Err(err) = result else { continue };
            let message = format!("{err:#}");
            assert!(
                message.contains(&winner_id)
                    && (message.contains("same key") || message.contains("refusing")),
                "round {round}: unclear refusal: {message}"
            );
            assert!(
                !message
                    .as_bytes()
                    .windows(64)
                    .any(|w| w.iter().all(u8::is_ascii_hexdigit)),
                "key material in: {message}"
            );
            assert!(
                !dir.join("internal.key").exists(),
                "round {round}: a refused replica left its unused key behind"
            );
        }
    }
}

/// The mechanism under the race, without timing: the first value claimed stays.
async fn the_first_claim_of_a_meta_key_stays(b: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh(b, tmp.path()).await;
    let store = openclaw_fleet::store::connect(&url).await.unwrap();
    let claims = (0..8).map(|i| {
        let store = store.clone();
        async move {
            store
                .claim_meta("race", &format!("value-{i}"))
                .await
                .unwrap()
        }
    });
    let seen = futures::future::join_all(claims).await;
    assert!(seen.iter().all(|v| *v == seen[0]), "{seen:?}");
    assert_eq!(store.claim_meta("race", "late").await.unwrap(), seen[0]);
    assert_eq!(store.meta("race").await.unwrap(), Some(seen[0].clone()));
}

async fn replicas_given_one_key_start_together(b: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh(b, tmp.path()).await;
    let key_file = tmp.path().join("shared.key");
    std::fs::write(&key_file, "5a".repeat(32)).unwrap();
    let (a, b2) = tokio::join!(
        Server::build(
            settings(&url, tmp.path().join("a"), Some(key_file.clone())),
            None
        ),
        Server::build(
            settings(&url, tmp.path().join("b"), Some(key_file.clone())),
            None
        ),
    );
    let (a, b2) = (a.expect("first replica"), b2.expect("second replica"));
    assert!(a.state().ready().await && b2.state().ready().await);
}
