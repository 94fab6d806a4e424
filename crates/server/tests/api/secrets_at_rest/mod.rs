//! Secrets at rest and in logs (SPEC §1, §6): the real binary runs as a subprocess with
//! every log level on; the suite's flows are driven through it; then every file of its
//! data dir (SQLite database, WAL, key file), every database row (PostgreSQL) and all
//! it printed are searched for agent secrets, tokens, the account password and the
//! config plaintext — raw, hex, base64 and base64url, text and decoded bytes.

mod database_url;
mod flows;
mod needles;
mod process;

use crate::common::{Backend, PgDatabase};
use flows::exercise;
use needles::{files, found, latin1, Needle};
use process::{start, Http};

both_backends!(no_secret_reaches_disk_database_or_logs);

#[track_caller]
fn assert_clean(place: &str, haystack: &[u8], needles: &[Needle]) {
    let hits = found(haystack, needles);
    assert!(hits.is_empty(), "{place} holds {hits:?}");
}

async fn no_secret_reaches_disk_database_or_logs(b: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let pg = match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let server = start(&data_dir, pg.as_ref().map(|p| p.url.as_str())).await;
    let http = Http {
        base: server.base.clone(),
        client: reqwest::Client::new(),
    };
    let (needles, present) = exercise(&http).await;

    // While running (the SQLite WAL holds the recent writes), then after shutdown.
    let live = files(&data_dir);
    let logs = server.stop().await;
    let stopped = files(&data_dir);

    let log_text = String::from_utf8_lossy(&logs);
    for line in [
        "agent handshake accepted",
        "handshake refused",
        "plaintext",
        &present[0],
    ] {
        assert!(
            log_text.contains(line),
            "the logs lack {line:?}: the capture is broken"
        );
    }
    assert!(
        log_text.contains("TRACE") || log_text.contains("DEBUG"),
        "verbose logging was not on"
    );
    assert_clean("the server's output", &logs, &needles);

    let mut db_seen = false;
    for (path, bytes) in live.iter().chain(&stopped) {
        assert_clean(path, bytes, &needles);
        db_seen |= path.contains("fleet.db") && latin1(bytes).contains(&present[0]);
    }
    if let Some(pg) = &pg {
        let rows = pg.dump_rows().await;
        let dump = rows.join("\n");
        for value in &present {
            assert!(dump.contains(value.as_str()), "the dump lacks {value}");
        }
        assert!(dump.contains("ocf1."), "no sealed value in the dump");
        assert_clean("the PostgreSQL rows", dump.as_bytes(), &needles);
    } else {
        assert!(
            db_seen,
            "the SQLite file does not hold the agent: wrong file read"
        );
    }
}
