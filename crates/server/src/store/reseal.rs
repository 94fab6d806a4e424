//! Storage for the key rotation pass: the values of a registered sealed column that are
//! not yet under a key, replaced in batches (compare-and-swap, one transaction per
//! batch, so an interrupted pass loses nothing and a rerun skips what is done), and the
//! rotation's end recorded in `meta` in one transaction.
//!
//! Table, column and row names come from `crypto::sealed_columns`, never from input.
//! A row expression must be TEXT (the AAD names the row by its text).

use async_trait::async_trait;

use super::StoreError;
use crate::crypto::sealed_columns::SealedColumn;

#[async_trait]
pub trait ResealStore {
    /// Up to `limit` `(row, value)` of `col` that are not sealed under `key_id`.
    async fn sealed_not_under(
        &self,
        col: &SealedColumn,
        key_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// How many values of `col` are not sealed under `key_id`.
    async fn count_not_under(&self, col: &SealedColumn, key_id: &str) -> Result<i64, StoreError>;
    /// Sets each `(row, old, new)` whose value is still `old`; one transaction.
    async fn replace_sealed(
        &self,
        col: &SealedColumn,
        changes: &[(String, String, String)],
    ) -> Result<u64, StoreError>;
    /// `key_id` := `new_id`, `retired_key_id` := `old_id`, no `rotation_to`.
    async fn finish_rotation(&self, new_id: &str, old_id: &str) -> Result<(), StoreError>;
    async fn delete_meta(&self, key: &str) -> Result<(), StoreError>;
}

/// `LIKE` pattern of the values sealed under `key_id`.
pub fn sealed_under(key_id: &str) -> String {
    format!("ocf1.{key_id}.%")
}

macro_rules! impl_reseal_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ResealStore for $store {
            async fn sealed_not_under(
                &self,
                col: &$crate::crypto::sealed_columns::SealedColumn,
                key_id: &str,
                limit: i64,
            ) -> Result<Vec<(String, String)>, StoreError> {
                let sql = format!(
                    "SELECT CAST({row} AS TEXT), {column} FROM {table} \
                     WHERE {column} IS NOT NULL AND {column} NOT LIKE $1 ORDER BY 1 LIMIT $2",
                    row = col.row,
                    column = col.column,
                    table = col.table
                );
                Ok(sqlx::query_as(&sql)
                    .bind($crate::store::reseal::sealed_under(key_id))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn count_not_under(
                &self,
                col: &$crate::crypto::sealed_columns::SealedColumn,
                key_id: &str,
            ) -> Result<i64, StoreError> {
                let sql = format!(
                    "SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE $1",
                    column = col.column,
                    table = col.table
                );
                Ok(sqlx::query_scalar(&sql)
                    .bind($crate::store::reseal::sealed_under(key_id))
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn replace_sealed(
                &self,
                col: &$crate::crypto::sealed_columns::SealedColumn,
                changes: &[(String, String, String)],
            ) -> Result<u64, StoreError> {
                let sql = format!(
                    "UPDATE {table} SET {column} = $1 WHERE {row} = $2 AND {column} = $3",
                    row = col.row,
                    column = col.column,
                    table = col.table
                );
                let mut tx = self.pool.begin().await?;
                let mut n = 0;
                for (row, old, new) in changes {
                    n += sqlx::query(&sql)
                        .bind(new)
                        .bind(row)
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(n)
            }

            async fn finish_rotation(&self, new_id: &str, old_id: &str) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                for (key, value) in [("key_id", new_id), ("retired_key_id", old_id)] {
                    sqlx::query(
                        "INSERT INTO meta (key, value) VALUES ($1, $2) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("DELETE FROM meta WHERE key = 'rotation_to'")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM meta WHERE key = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_reseal_store;
