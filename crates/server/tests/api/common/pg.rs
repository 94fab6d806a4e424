//! A throw-away PostgreSQL database per test: `ocf_test_<random>`, created through the
//! admin URL (`OPENCLAW_FLEET_TEST_POSTGRES_URL`, default the local `postgres`
//! superuser) and dropped, with its connections, when the test ends.

use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Whether the PostgreSQL half of the suite is switched off on purpose.
pub fn skip_postgres() -> bool {
    let skip = std::env::var("OPENCLAW_FLEET_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("OPENCLAW_FLEET_SKIP_POSTGRES=1: PostgreSQL test skipped");
    }
    skip
}

fn admin_url() -> String {
    std::env::var("OPENCLAW_FLEET_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into())
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// Creates a fresh, empty database. Panics (the test fails) when PostgreSQL is
    /// unreachable: a silent skip would hide a backend that was never tested.
    pub async fn create() -> Self {
        let admin_url = admin_url();
        let name = format!("ocf_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is unreachable at {admin_url} ({e}); start it, point \
                 OPENCLAW_FLEET_TEST_POSTGRES_URL at one, or set OPENCLAW_FLEET_SKIP_POSTGRES=1"
            )
        });
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE");
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// Every row of every table of the public schema, as JSON text.
    pub async fn dump_rows(&self) -> Vec<String> {
        dump_rows(&self.url).await
    }
}

/// Every row of every table of the public schema of the database at `url`, as JSON text.
pub async fn dump_rows(url: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    assert!(tables.iter().any(|t| t == "agents"), "schema not found");
    let mut rows = Vec::new();
    for table in tables {
        let sql = format!("SELECT row_to_json(t)::text FROM \"{table}\" t");
        let found: Vec<String> = sqlx::query_scalar(&sql)
            .fetch_all(&mut conn)
            .await
            .expect("dump table");
        rows.extend(found.into_iter().map(|r| format!("{table}: {r}")));
    }
    let _ = conn.close().await;
    rows
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a separate thread may block on its own.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = conn.execute(sql.as_str()).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

#[test]
fn database_name_is_replaced() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
