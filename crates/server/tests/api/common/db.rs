//! A connection of the test's own to the server's database, for what the API does not
//! show (rows as stored, locks held from outside).

use openclaw_fleet::store::Resolution;
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

use super::TestApp;

pub enum Db {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// One rollup row as stored: agent key, bucket start, sample count, then the average,
/// maximum and sample count of cpu, memory, disk and latency.
pub type RollupRow = (i64, i64, i64, Vec<Option<f64>>);

/// `$body` with `$c` the connection, on either backend (the arms differ only in types).
macro_rules! on {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            Db::Sqlite($c) => $body,
            Db::Pg($c) => $body,
        }
    };
}

impl Db {
    pub async fn open(app: &TestApp) -> Self {
        let url = app.settings().database_url();
        if url.starts_with("sqlite:") {
            Db::Sqlite(SqliteConnection::connect(&url).await.unwrap())
        } else {
            Db::Pg(PgConnection::connect(&url).await.unwrap())
        }
    }

    /// One integer (`sql` holds no user input: ids are UUIDs made by the server).
    pub async fn int(&mut self, sql: &str) -> i64 {
        on!(self, c => sqlx::query_scalar(sql).fetch_one(c).await.unwrap())
    }

    pub async fn exec(&mut self, sql: &str) {
        on!(self, c => {
            sqlx::raw_sql(sql).execute(c).await.unwrap();
        })
    }

    pub async fn last_seen(&mut self, agent: &str) -> i64 {
        self.int(&format!(
            "SELECT COALESCE(MAX(last_seen), -1) FROM agents WHERE id = '{agent}'"
        ))
        .await
    }

    /// The agent's history key.
    pub async fn key(&mut self, agent: &str) -> i64 {
        self.int(&format!(
            "SELECT CAST(agent_key AS BIGINT) FROM metrics_keys WHERE agent_id = '{agent}'"
        ))
        .await
    }

    /// The agent's raw history samples.
    pub async fn samples(&mut self, agent: &str) -> i64 {
        self.int(&format!(
            "SELECT COUNT(*) FROM metrics_raw r JOIN metrics_keys k ON k.agent_key = r.agent_key \
             WHERE k.agent_id = '{agent}'"
        ))
        .await
    }

    /// Every row of a rollup table, by agent key and bucket.
    pub async fn rollups(&mut self, res: Resolution) -> Vec<RollupRow> {
        let sql = format!(
            "SELECT CAST(agent_key AS BIGINT), bucket, CAST(samples AS BIGINT), cpu_avg, cpu_max, \
             CAST(cpu_n AS DOUBLE PRECISION), memory_avg, memory_max, \
             CAST(memory_n AS DOUBLE PRECISION), disk_avg, disk_max, \
             CAST(disk_n AS DOUBLE PRECISION), latency_avg, latency_max, \
             CAST(latency_n AS DOUBLE PRECISION) FROM {} ORDER BY agent_key, bucket",
            res.table()
        );
        fn row<R: Row>(r: &R) -> RollupRow
        where
            usize: sqlx::ColumnIndex<R>,
            for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
            for<'a> Option<f64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                (3..15).map(|i| r.get::<Option<f64>, _>(i)).collect(),
            )
        }
        on!(self, c => sqlx::query(&sql).fetch_all(c).await.unwrap().iter().map(row).collect())
    }
}
