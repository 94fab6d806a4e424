//! Who may use a database at once. A running server holds a shared lock on its database
//! for its whole life; the maintenance commands that must never run beside a server
//! (`rotate-internal-key`, `restore`) take the lock exclusively and refuse when they
//! cannot. SQLite: an advisory file lock on `<database>.lock` (released when the process
//! ends, however it ends). PostgreSQL: a session advisory lock on a connection of its own
//! (released when that connection closes), shared by every replica.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;

use super::StoreError;

/// A held lock; dropping it lets go.
pub struct DbLock(#[allow(dead_code)] Mutex<Box<dyn Send>>);

impl DbLock {
    pub(crate) fn holding(what: impl Send + 'static) -> Self {
        Self(Mutex::new(Box::new(what)))
    }
}

#[async_trait]
pub trait LockStore {
    /// The server's shared lock; `None` while a maintenance command holds it.
    async fn server_lock(&self) -> Result<Option<DbLock>, StoreError>;
    /// The exclusive maintenance lock; `None` while any server runs.
    async fn maintenance_lock(&self) -> Result<Option<DbLock>, StoreError>;
}

/// The PostgreSQL advisory lock key ("OCFL").
pub const PG_LOCK_KEY: i64 = 0x4f43_464c;

/// The lock file of a SQLite database file.
pub fn sqlite_lock_file(db_file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", db_file.display()))
}

/// Takes the lock of the SQLite database `db_file`: `None` when the other kind is held.
pub fn sqlite_lock(db_file: &Path, exclusive: bool) -> Result<Option<DbLock>, StoreError> {
    if db_file.as_os_str() == ":memory:" || db_file.as_os_str().is_empty() {
        return Ok(Some(DbLock::holding(())));
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(sqlite_lock_file(db_file))
        .map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
    let taken = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match taken {
        Ok(()) => Ok(Some(DbLock::holding(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Db(sqlx::Error::Io(e))),
    }
}

macro_rules! impl_lock_store_sqlite {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::LockStore for $store {
            async fn server_lock(&self) -> Result<Option<$crate::store::DbLock>, StoreError> {
                let options = self.pool.connect_options();
                $crate::store::lock::sqlite_lock(options.get_filename(), false)
            }

            async fn maintenance_lock(&self) -> Result<Option<$crate::store::DbLock>, StoreError> {
                let options = self.pool.connect_options();
                $crate::store::lock::sqlite_lock(options.get_filename(), true)
            }
        }
    };
}
pub(crate) use impl_lock_store_sqlite;

macro_rules! impl_lock_store_postgres {
    ($store:ty) => {
        impl $store {
            async fn advisory_lock(
                &self,
                sql: &str,
            ) -> Result<Option<$crate::store::DbLock>, StoreError> {
                let mut conn = self.pool.acquire().await?.detach();
                let taken: bool = sqlx::query_scalar(sql)
                    .bind($crate::store::lock::PG_LOCK_KEY)
                    .fetch_one(&mut conn)
                    .await?;
                Ok(taken.then(|| $crate::store::DbLock::holding(conn)))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::LockStore for $store {
            async fn server_lock(&self) -> Result<Option<$crate::store::DbLock>, StoreError> {
                self.advisory_lock("SELECT pg_try_advisory_lock_shared($1)")
                    .await
            }

            async fn maintenance_lock(&self) -> Result<Option<$crate::store::DbLock>, StoreError> {
                self.advisory_lock("SELECT pg_try_advisory_lock($1)").await
            }
        }
    };
}
pub(crate) use impl_lock_store_postgres;
