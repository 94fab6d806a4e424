//! A throw-away PostgreSQL database per test (`ocf_ctl_<random>`), created
//! through the admin URL (`OPENCLAW_FLEET_TEST_POSTGRES_URL`, default the
//! local `postgres` superuser) and dropped with its connections afterwards.

use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

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
    pub fn create() -> Self {
        let admin_url = admin_url();
        let name = format!("ocf_ctl_{}", uuid::Uuid::new_v4().simple());
        let (a, n) = (admin_url.clone(), name.clone());
        on_own_runtime(async move {
            let mut conn = PgConnection::connect(&a).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is unreachable at {a} ({e}); start it, point \
                     OPENCLAW_FLEET_TEST_POSTGRES_URL at one, or set OPENCLAW_FLEET_SKIP_POSTGRES=1"
                )
            });
            conn.execute(format!("CREATE DATABASE {n}").as_str())
                .await
                .expect("CREATE DATABASE");
            let _ = conn.close().await;
        });
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }
}

fn on_own_runtime(fut: impl std::future::Future<Output = ()> + Send + 'static) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(fut)
    })
    .join()
    .expect("database set-up");
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        on_own_runtime(async move {
            if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = conn.execute(sql.as_str()).await;
                let _ = conn.close().await;
            }
        });
    }
}
