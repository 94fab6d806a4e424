//! Nothing is acknowledged before it is durable: the commit settings actually in effect
//! on the server's database connections, read back from the database itself.

use openclaw_fleet::store::postgres::PostgresStore;
use openclaw_fleet::store::sqlite::SqliteStore;
use sqlx::{Connection, PgConnection};

use crate::common::{Backend, PgDatabase};

both_backends!(commits_are_durable_on_every_connection);

async fn commits_are_durable_on_every_connection(b: Backend) {
    match b {
        Backend::Sqlite => {
            let tmp = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", tmp.path().join("fleet.db").display());
            let store = SqliteStore::connect(&url).await.unwrap();
            let (control, telemetry) = store.synchronous_levels().await.unwrap();
            // FULL (2) wherever accounts, agents, secrets, configs, signatures and tokens
            // are written (the pool's four connections and the handshake batches' one);
            // NORMAL (1) only on the heartbeat-telemetry connection.
            assert_eq!(control, [2, 2, 2, 2, 2]);
            assert_eq!(telemetry, [1]);
        }
        Backend::Postgres => {
            // A database set to acknowledge commits before they are flushed is overridden;
            // another durable level chosen by the operator is kept.
            for (configured, in_effect) in [("off", "on"), ("local", "local"), ("on", "on")] {
                let pg = PgDatabase::create().await;
                let mut conn = PgConnection::connect(&pg.url).await.unwrap();
                let name: String = sqlx::query_scalar("SELECT current_database()")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                let sql =
                    format!("ALTER DATABASE \"{name}\" SET synchronous_commit = {configured}");
                sqlx::query(&sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                let store = PostgresStore::connect(&pg.url).await.unwrap();
                let levels = store.synchronous_commit_levels().await.unwrap();
                assert!(!levels.is_empty());
                assert!(
                    levels.iter().all(|l| l == in_effect),
                    "configured {configured}: {levels:?}"
                );
            }
        }
    }
}
