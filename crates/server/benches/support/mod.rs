//! What the database benchmarks share: their arguments, and a PostgreSQL database of
//! their own (on `OPENCLAW_FLEET_TEST_POSTGRES_URL`, the tests' variable).

use sqlx::{Connection, Executor, PgConnection};

/// The arguments after `--`, without the flags cargo adds (`--bench`).
pub fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}

/// Argument `i` parsed, or `default` when it is missing or not one.
pub fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// A new database, dropped by [`PgDatabase::drop`].
pub struct PgDatabase {
    pub url: String,
    admin: PgConnection,
    name: String,
}

impl PgDatabase {
    /// Creates `<prefix>_<random>` next to the database the variable names.
    pub async fn create(prefix: &str) -> anyhow::Result<Self> {
        let base = std::env::var("OPENCLAW_FLEET_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let Some((head, _)) = base.rsplit_once('/') else {
            anyhow::bail!("database URL without a path");
        };
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{head}/{name}");
        let mut admin = PgConnection::connect(&base).await?;
        admin.execute(&*format!("CREATE DATABASE {name}")).await?;
        Ok(Self { url, admin, name })
    }

    pub async fn drop(mut self) -> anyhow::Result<()> {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        self.admin.execute(&*sql).await?;
        Ok(())
    }
}
