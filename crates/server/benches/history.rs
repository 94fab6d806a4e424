//! Heartbeat history on disk (issue 10 item 3): bytes per agent per day of each history
//! table, the steady-state bytes held per agent under the retention of each resolution
//! (docs/api.md, "Heartbeat history"), and that bound at 100 000 agents, against the
//! baseline measured in the same run: the schema before migration 0014 (one `heartbeats`
//! row per sample, with an id and the agent id as text, kept 30 days). Not a test.
//!
//!   cargo bench -p openclaw-fleet --bench history -- [sqlite|postgres|both] [AGENTS]
//!
//! The server is built on a fresh database with a test clock. N agents get one day of
//! samples at 10 s (8640 each), written time-major (every agent's sample of one second,
//! then the next), as heartbeats arrive, by direct SQL in hourly transactions; the same
//! samples go into a copy of the old `heartbeats` table. Then the clock moves past the
//! day and the server's own roll-up task builds the 1-minute, 5-minute and hourly
//! buckets. Sizes are the tables' and their indexes' pages: SQLite's `dbstat`,
//! PostgreSQL's `pg_total_relation_size`. Metric values are non-integral (as real
//! ones are; SQLite stores integral reals smaller).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use openclaw_fleet::access::rollups::{FIVE_MINUTES_KEEP, MINUTE_KEEP, RAW_KEEP};
use openclaw_fleet::clock::ManualClock;
use openclaw_fleet::store::Resolution;
use openclaw_fleet::{Server, Settings};
use sqlx::{Connection, Executor, QueryBuilder};

mod support;

const PASSWORD: &str = "bench password long enough";
const DAY: i64 = 86400;
const SAMPLES_PER_DAY: i64 = DAY / 10;
const RETENTION_DAYS: i64 = 30;
const AT_SCALE: f64 = 100_000.0;

/// The `heartbeats` table of migration 0001 (the history before 0014), per backend.
const OLD_SQLITE: &str = "CREATE TABLE heartbeats_0001 (
    id INTEGER PRIMARY KEY AUTOINCREMENT, agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL, status TEXT NOT NULL, cpu_usage REAL, memory_usage REAL, disk_usage REAL,
    latency_ms REAL);
    CREATE INDEX heartbeats_0001_agent_ts ON heartbeats_0001(agent_id, ts);
    CREATE INDEX heartbeats_0001_ts ON heartbeats_0001(ts);";
const OLD_POSTGRES: &str = "CREATE TABLE heartbeats_0001 (
    id BIGSERIAL PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    ts BIGINT NOT NULL, status TEXT NOT NULL, cpu_usage DOUBLE PRECISION,
    memory_usage DOUBLE PRECISION, disk_usage DOUBLE PRECISION, latency_ms DOUBLE PRECISION);
    CREATE INDEX heartbeats_0001_agent_ts ON heartbeats_0001(agent_id, ts);
    CREATE INDEX heartbeats_0001_ts ON heartbeats_0001(ts);";

/// One hour of samples (`$1..=$2` of the day, starting at `$3`) into `target`; the
/// same values for the same agent and second whichever table.
fn seed_sql(target: &str) -> String {
    let (into, who, join) = match target {
        "new" => (
            "metrics_raw (agent_key, ts, cpu_usage, memory_usage, disk_usage, latency_ms)",
            "k.agent_key,",
            "",
        ),
        _ => (
            "heartbeats_0001 (agent_id, ts, status, cpu_usage, memory_usage, disk_usage, latency_ms)",
            "a.id, ",
            "JOIN agents a ON a.id = k.agent_id",
        ),
    };
    let status = if target == "new" { "" } else { "'healthy', " };
    format!(
        "WITH RECURSIVE s(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM s WHERE i < $2) \
         INSERT INTO {into} SELECT {who} $3 + s.i * 10, {status} \
         ((k.agent_key * 37 + s.i * 13) % 1000) / 10.0 + 0.05, \
         ((k.agent_key * 11 + s.i * 7) % 1000) / 10.0 + 0.05, \
         ((k.agent_key * 5 + s.i) % 1000) / 10.0 + 0.05, \
         ((k.agent_key * 3 + s.i * 17) % 5000) / 10.0 + 0.05 \
         FROM s CROSS JOIN metrics_keys k {join} ORDER BY s.i, k.agent_key"
    )
}

enum Db {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

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
    async fn exec(&mut self, sql: &str) -> anyhow::Result<()> {
        on!(self, c => c.execute(sql).await.map(drop)?);
        Ok(())
    }

    /// Inserts one day of samples into `target` ("new" or "old"), an hour a transaction.
    async fn seed(&mut self, target: &str, day: i64) -> anyhow::Result<()> {
        let sql = seed_sql(target);
        for hour in 0..24_i64 {
            let (first, last) = (hour * 360, hour * 360 + 359);
            on!(self, c => {
                let mut tx = c.begin().await?;
                let q = sqlx::query(&sql).bind(first).bind(last).bind(day);
                q.execute(&mut *tx).await?;
                tx.commit().await?;
            });
        }
        Ok(())
    }

    /// Bytes on disk of a table and its indexes.
    async fn bytes(&mut self, table: &str) -> anyhow::Result<i64> {
        Ok(match self {
            Db::Sqlite(c) => {
                sqlx::query_scalar(
                    "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN \
                     (SELECT name FROM sqlite_master WHERE tbl_name = $1)",
                )
                .bind(table)
                .fetch_one(c)
                .await?
            }
            Db::Pg(c) => {
                sqlx::query_scalar("SELECT pg_total_relation_size(CAST($1 AS regclass))")
                    .bind(table)
                    .fetch_one(c)
                    .await?
            }
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = support::args();
    let which = args.first().map_or("both", String::as_str);
    let agents: i64 = support::arg(&args, 1, 200);
    let backends: &[&str] = match which {
        "both" => &["sqlite", "postgres"],
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        other => anyhow::bail!("backend must be sqlite, postgres or both, not {other}"),
    };
    println!(
        "heartbeat history on disk: {agents} agents, one day of samples at 10 s each; \
         load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for backend in backends {
        run(backend, agents).await?;
    }
    Ok(())
}

async fn run(backend: &str, agents: i64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pg = match backend {
        "sqlite" => None,
        _ => Some(support::PgDatabase::create("ocf_bench_history").await?),
    };
    let url = pg.as_ref().map(|p| p.url.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let day = now - now % DAY - 2 * DAY;
    let clock = ManualClock::new(day);
    let settings = Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.path().join("data"),
        database_url: url.clone(),
        heartbeat_retention_days: RETENTION_DAYS,
        ..Settings::default()
    };
    let server = Server::build(settings, Some(Arc::new(clock.clone()))).await?;
    let state = server.state();
    state
        .public()
        .register("bench@example.com", PASSWORD, true)
        .await
        .map_err(|e| anyhow::anyhow!("{:?}", e.status()))?;
    let mut db = match &url {
        None => {
            let path = dir.path().join("data").join("fleet.db");
            Db::Sqlite(
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?,
            )
        }
        Some(u) => Db::Pg(sqlx::PgConnection::connect(u).await?),
    };
    let owner: String = on!(&mut db, c => {
        sqlx::query_scalar("SELECT id FROM users").fetch_one(c).await?
    });
    let ids: Vec<String> = (0..agents)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    for chunk in ids.chunks(1000) {
        macro_rules! insert {
            ($c:expr, $db:ty) => {{
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO agents (id, owner_id, name, name_fold, policy_profile, \
                     heartbeat_interval, secret_sealed, created_at) ",
                );
                q.push_values(chunk, |mut b, id| {
                    b.push_bind(id.clone())
                        .push_bind(owner.clone())
                        .push_bind(format!("h-{id}"))
                        .push_bind(format!("h-{id}"))
                        .push_bind("dev")
                        .push_bind(10_i64)
                        .push_bind("ocf1.bench-not-a-real-sealed-secret")
                        .push_bind(day);
                });
                q.build().execute($c).await?;
            }};
        }
        match &mut db {
            Db::Sqlite(c) => insert!(&mut *c, sqlx::Sqlite),
            Db::Pg(c) => insert!(&mut *c, sqlx::Postgres),
        }
    }
    db.exec(match backend {
        "sqlite" => OLD_SQLITE,
        _ => OLD_POSTGRES,
    })
    .await?;

    let started = Instant::now();
    db.seed("new", day).await?;
    let seed_new = started.elapsed();
    let started = Instant::now();
    db.seed("old", day).await?;
    let seed_old = started.elapsed();
    clock.set(day + DAY + 60);
    let started = Instant::now();
    let marks = state
        .roll_up_history()
        .await
        .map_err(|e| anyhow::anyhow!("{:?}", e.status()))?;
    let rolled = started.elapsed();
    anyhow::ensure!(
        marks.hour == day + DAY,
        "the day was not rolled up: {marks:?}"
    );
    if let Db::Pg(c) = &mut db {
        c.execute("VACUUM ANALYZE").await?;
    }

    let n = agents as f64;
    let per_agent = |b: i64| b as f64 / n;
    let old = per_agent(db.bytes("heartbeats_0001").await?);
    let keys = per_agent(db.bytes("metrics_keys").await?);
    // (label, table, bytes per agent per day, seconds kept)
    let mut rows = Vec::new();
    for (label, res, kept) in [
        ("raw samples", Resolution::Raw, RAW_KEEP),
        ("1-minute", Resolution::Minute, MINUTE_KEEP),
        ("5-minute", Resolution::FiveMinutes, FIVE_MINUTES_KEEP),
        ("1-hour", Resolution::Hour, RETENTION_DAYS * DAY),
    ] {
        rows.push((
            label,
            res.table(),
            per_agent(db.bytes(res.table()).await?),
            kept,
        ));
    }
    println!();
    println!(
        "== {backend}: seeded {} samples in {:.1} s (the old table: {:.1} s); roll-up of the \
         day {:.1} s ({:.2} ms per agent-day)",
        agents * SAMPLES_PER_DAY,
        seed_new.as_secs_f64(),
        seed_old.as_secs_f64(),
        rolled.as_secs_f64(),
        rolled.as_secs_f64() * 1000.0 / n
    );
    println!(
        "{:<34} {:>16} {:>9} {:>16}",
        "table", "bytes/agent/day", "kept", "held/agent"
    );
    let old_held = old * RETENTION_DAYS as f64;
    println!(
        "{:<34} {:>16.0} {:>9} {:>16.0}",
        "before 0014: heartbeats (baseline)",
        old,
        format!("{RETENTION_DAYS} d"),
        old_held
    );
    let mut held = keys;
    let mut written = 0.0;
    for (label, table, bytes, kept) in &rows {
        let h = bytes * *kept as f64 / DAY as f64;
        held += h;
        written += bytes;
        let kept = if *kept < DAY {
            format!("{} h", kept / 3600)
        } else {
            format!("{} d", kept / DAY)
        };
        println!(
            "{:<34} {:>16.0} {:>9} {:>16.0}",
            format!("{label} ({table})"),
            bytes,
            kept,
            h
        );
    }
    println!(
        "{:<34} {:>16} {:>9} {:>16.0}",
        "agent keys (metrics_keys)", "-", "-", keys
    );
    println!(
        "{backend}: history written {written:.0} bytes/agent/day (before: {old:.0}, {:.2}x); \
         held at steady state {held:.0} bytes/agent (before, 30 days: {old_held:.0}, {:.3}x); \
         bound at 100 000 agents: {:.2} GB (before: {:.1} GB)",
        written / old,
        held / old_held,
        held * AT_SCALE / 1e9,
        old_held * AT_SCALE / 1e9
    );
    drop(db);
    drop(state);
    if let Some(pg) = pg {
        pg.drop().await?;
    }
    Ok(())
}
