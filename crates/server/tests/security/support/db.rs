//! Every row of every table, as text, read straight from the database the server
//! uses (SQLite file or PostgreSQL): comparing two dumps proves that a refused
//! request stored nothing, wherever it might have tried to.

use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::common::TestApp;

pub async fn dump(app: &TestApp) -> Vec<String> {
    // Heartbeats are acknowledged from memory and written within a second: write what
    // is acknowledged first, so a dump holds it and a later flush cannot look like a
    // change the refused requests made (and an accepted one shows in the next dump).
    app.state
        .flush_heartbeats()
        .await
        .expect("flush the acknowledged heartbeats");
    let url = app.state.settings().database_url();
    let rows = if url.starts_with("sqlite:") {
        dump_sqlite(&url).await
    } else {
        dump_postgres(&url).await
    };
    // The history roll-up's own progress marks move on its timer (a first pass finds
    // nothing to roll up and moves its mark to the present), whatever requests come: not
    // something a request can change, so not compared.
    rows.into_iter()
        .filter(|r| !r.starts_with("metrics_rollups:"))
        .collect()
}

async fn dump_sqlite(url: &str) -> Vec<String> {
    let mut conn = SqliteConnectOptions::from_str(url)
        .expect("sqlite url")
        .read_only(true)
        .connect()
        .await
        .expect("open the SQLite file");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    assert!(tables.iter().any(|t| t == "agents"), "schema not found");
    let mut rows = Vec::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(&mut conn)
                .await
                .expect("columns");
        let list = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let sql = format!("SELECT {list} FROM \"{table}\" ORDER BY 1");
        let found: Vec<String> = sqlx::query_scalar(&sql)
            .fetch_all(&mut conn)
            .await
            .expect("dump table");
        rows.extend(found.into_iter().map(|r| format!("{table}: {r}")));
    }
    let _ = conn.close().await;
    rows.sort();
    rows
}

async fn dump_postgres(url: &str) -> Vec<String> {
    let mut rows = crate::common::pg::dump_rows(url).await;
    rows.sort();
    rows
}

/// Asserts two dumps are equal, naming the rows that differ.
#[track_caller]
pub fn assert_same(before: &[String], after: &[String], what: &str) {
    if before != after {
        let gone: Vec<_> = before.iter().filter(|r| !after.contains(r)).collect();
        let new: Vec<_> = after.iter().filter(|r| !before.contains(r)).collect();
        panic!("{what} changed the database:\n  removed: {gone:#?}\n  added: {new:#?}");
    }
}
