//! `openclaw-fleet backup` and `restore` for the SQLite backend.
//!
//! A backup is `VACUUM INTO` a new file: a consistent snapshot of a live database,
//! taken inside one read transaction while the server goes on writing (WAL mode). The
//! file is claimed with `O_EXCL` and mode 0600 before SQLite writes into it, so an
//! existing file is never overwritten and the copy is never readable by others. It holds
//! sealed values only; the key that opens them (`internal.key`) is kept apart, and a
//! restore checks that the key at hand is the one the backup was made under.
//!
//! PostgreSQL has its own tools (`pg_dump` / `pg_restore`); these commands say so.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::crypto::internal_key;
use crate::settings::Settings;
use crate::store::Backend;

const POSTGRES_BACKUP: &str = "backup copies a SQLite database; for PostgreSQL use \
    `pg_dump --format=custom --file=fleet.dump DATABASE_URL` (README, \"Backups\")";
const POSTGRES_RESTORE: &str = "restore writes a SQLite database; for PostgreSQL use \
    `pg_restore --clean --if-exists --no-owner --dbname=DATABASE_URL fleet.dump` \
    (README, \"Backups\")";

/// The file a `sqlite://` URL names.
fn sqlite_file(settings: &Settings, refusal: &str) -> anyhow::Result<PathBuf> {
    let url = settings.database_url();
    if Backend::from_url(&url)? == Backend::Postgres {
        bail!("{refusal}");
    }
    let path = SqliteConnectOptions::from_str(&url)?
        .get_filename()
        .to_path_buf();
    ensure!(
        path.as_os_str() != ":memory:",
        "an in-memory database has nothing to back up or restore"
    );
    Ok(path)
}

async fn open(path: &Path) -> anyhow::Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot open SQLite database {}", path.display()))
}

/// What a backup file holds: checked sound, and the key id its secrets are sealed under.
struct Snapshot {
    key_id: Option<String>,
    agents: i64,
    users: i64,
}

async fn inspect(path: &Path) -> anyhow::Result<Snapshot> {
    let mut conn = open(path).await?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    ensure!(check == "ok", "{} is damaged: {check}", path.display());
    let has_meta: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'agents', 'users')",
    )
    .fetch_one(&mut conn)
    .await?;
    ensure!(
        has_meta == 3,
        "{} is not an OpenClaw Fleet database",
        path.display()
    );
    let key_id = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'key_id'")
        .fetch_optional(&mut conn)
        .await?;
    let agents = sqlx::query_scalar("SELECT COUNT(*) FROM agents")
        .fetch_one(&mut conn)
        .await?;
    let users = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(Snapshot {
        key_id,
        agents,
        users,
    })
}

/// `openclaw-fleet backup --out FILE`.
pub async fn backup(settings: &Settings, out: &Path) -> anyhow::Result<Value> {
    let source = sqlite_file(settings, POSTGRES_BACKUP)?;
    ensure!(source.exists(), "no database at {}", source.display());
    let claimed = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out);
    match claimed {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists; refusing to overwrite it (name a new file)",
            out.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", out.display())),
        Ok(file) => drop(file),
    }
    let copied = copy_into(&source, out).await;
    if copied.is_err() {
        let _ = std::fs::remove_file(out);
    }
    let snapshot = copied?;
    Ok(json!({
        "backup": out.display().to_string(),
        "key_id": snapshot.key_id,
        "users": snapshot.users,
        "agents": snapshot.agents,
        "bytes": std::fs::metadata(out)?.len(),
    }))
}

async fn copy_into(source: &Path, out: &Path) -> anyhow::Result<Snapshot> {
    let mut conn = open(source).await?;
    let target = out
        .to_str()
        .context("the backup path must be valid UTF-8")?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut conn)
        .await
        .context("VACUUM INTO failed")?;
    let _ = conn.close().await;
    std::fs::File::open(out)?.sync_all()?;
    inspect(out).await
}

/// `openclaw-fleet restore --from FILE [--force]`.
pub async fn restore(settings: &Settings, from: &Path, force: bool) -> anyhow::Result<Value> {
    let target = sqlite_file(settings, POSTGRES_RESTORE)?;
    let snapshot = inspect(from).await?;
    let Some(key_id) = snapshot.key_id.as_deref() else {
        bail!(
            "{} holds no key id: not a backup of a server that ran",
            from.display()
        );
    };
    if let Some(dir) = target.parent() {
        crate::startup::create_private_dir(dir)?;
    }
    let _lock = crate::store::lock::sqlite_lock(&target, true)?
        .context("a server is running on this database: stop it before restoring")?;
    let siblings = ["-wal", "-shm"].map(|s| PathBuf::from(format!("{}{s}", target.display())));
    let occupied = target.exists() || siblings.iter().any(|p| p.exists());
    if occupied && !force {
        bail!(
            "{} already holds a database; refusing to overwrite it (stop the server, then \
             pass --force to replace it)",
            target.display()
        );
    }
    internal_key::resolve(
        &settings.data_dir,
        settings.internal_encryption_key_file.as_deref(),
        Some(key_id),
    )
    .context("the backup's agent secrets and configs are sealed under an internal key that is not at hand")?;
    let partial = PathBuf::from(format!("{}.restoring", target.display()));
    let _ = std::fs::remove_file(&partial);
    {
        let mut dst = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        std::io::copy(&mut std::fs::File::open(from)?, &mut dst)?;
        dst.sync_all()?;
    }
    for stale in &siblings {
        let _ = std::fs::remove_file(stale);
    }
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot move the restored database to {}", target.display()))?;
    // Opens it as the server will: migrations, and the key rules once more.
    crate::startup::open_storage(settings).await?;
    Ok(json!({
        "restored": target.display().to_string(),
        "key_id": key_id,
        "users": snapshot.users,
        "agents": snapshot.agents,
    }))
}
