//! The owner's activity log: what happened to an account and its objects, never a value.
//!
//! A row names an action, the object it touched (kind, id and its name at the time), who
//! did it (a session's public id, the operator, an agent) and from which address. The
//! store methods that make a control-plane change write their row with
//! [`insert_activity!`] in the transaction of the change, so a row exists exactly when
//! the change committed. Events that an outsider can repeat at will (failed sign-ins, a
//! secret sent in plaintext) go through [`ActivityStore::record_coalesced`], which folds
//! repeats into one row's `count` and bounds the rows an attacker can add.

use async_trait::async_trait;
use sqlx::FromRow;

use super::StoreError;

/// One entry to write.
#[derive(Debug, Clone)]
pub struct Activity {
    pub owner_id: String,
    pub ts: i64,
    pub action: &'static str,
    pub object_kind: Option<&'static str>,
    pub object_id: Option<String>,
    /// `None`: the current name of the owner's agent or fleet with `object_id`, if any.
    pub object_name: Option<String>,
    /// A small JSON object of non-secret facts (field names, a version number).
    pub detail: Option<String>,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub client_addr: Option<String>,
}

/// One stored entry.
#[derive(Debug, Clone, FromRow)]
pub struct ActivityRow {
    pub id: i64,
    pub ts: i64,
    pub last_ts: i64,
    pub count: i64,
    pub action: String,
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    pub object_name: Option<String>,
    pub detail: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub client_addr: Option<String>,
}

/// How repeats of a coalesced action are folded.
#[derive(Debug, Clone, Copy)]
pub struct Coalesce {
    /// A repeat joins the row whose last occurrence is at most this old (seconds)...
    pub window: i64,
    /// ...and whose first occurrence is at most this old, so a row spans a bounded time.
    pub span: i64,
    /// At most this many rows with distinct addresses per owner, action and object
    /// within `span`; repeats from further addresses share one row without an address.
    pub addresses: i64,
}

/// The insert shared by every store method that records its change.
pub const INSERT_SQL: &str = "INSERT INTO activity (owner_id, ts, last_ts, count, action, \
     object_kind, object_id, object_name, detail, actor_kind, actor_id, client_addr) \
     VALUES ($1, $2, $2, 1, $3, $4, $5, COALESCE($6, \
     (SELECT name FROM agents WHERE owner_id = $1 AND id = $5), \
     (SELECT name FROM fleets WHERE owner_id = $1 AND id = $5)), $7, $8, $9, $10)";

/// Writes an [`Activity`] on an executor (a transaction's connection); evaluates to the
/// `execute` future.
macro_rules! insert_activity {
    ($exec:expr, $a:expr) => {{
        let a: &$crate::store::Activity = $a;
        sqlx::query($crate::store::activity::INSERT_SQL)
            .bind(&a.owner_id)
            .bind(a.ts)
            .bind(a.action)
            .bind(a.object_kind)
            .bind(&a.object_id)
            .bind(&a.object_name)
            .bind(&a.detail)
            .bind(a.actor_kind)
            .bind(&a.actor_id)
            .bind(&a.client_addr)
            .execute($exec)
    }};
}
pub(crate) use insert_activity;

#[async_trait]
pub trait ActivityStore {
    /// The owner's entries with an id below `before`, newest first; with `object_id`,
    /// only those about that object.
    async fn activity(
        &self,
        owner: &str,
        before: i64,
        object_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ActivityRow>, StoreError>;
    /// Records an action that may repeat quickly: adds one to the matching recent row
    /// (same owner, action, object and address) or starts one. Serialized per owner by
    /// the owner's row lock, so concurrent repeats do not start rows of their own.
    async fn record_coalesced(&self, a: &Activity, how: Coalesce) -> Result<(), StoreError>;
}

macro_rules! impl_activity_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ActivityStore for $store {
            async fn activity(
                &self,
                owner: &str,
                before: i64,
                object_id: Option<&str>,
                limit: i64,
            ) -> Result<Vec<$crate::store::ActivityRow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, ts, last_ts, count, action, object_kind, object_id, object_name, \
                     detail, actor_kind, actor_id, client_addr FROM activity \
                     WHERE owner_id = $1 AND id < $2 AND ($3 IS NULL OR object_id = $3) \
                     ORDER BY id DESC LIMIT $4",
                )
                .bind(owner)
                .bind(before)
                .bind(object_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn record_coalesced(
                &self,
                a: &$crate::store::Activity,
                how: $crate::store::Coalesce,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                let owner = sqlx::query("UPDATE users SET email = email WHERE id = $1")
                    .bind(&a.owner_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if owner != 1 {
                    return Ok(());
                }
                let mut entry = a.clone();
                for attempt in 0..2 {
                    let joined = sqlx::query(
                        "UPDATE activity SET count = count + 1, last_ts = $1 WHERE id = \
                         (SELECT id FROM activity WHERE owner_id = $2 AND action = $3 \
                          AND COALESCE(object_id, '') = COALESCE($4, '') \
                          AND COALESCE(client_addr, '') = COALESCE($5, '') \
                          AND last_ts >= $6 AND ts >= $7 ORDER BY id DESC LIMIT 1)",
                    )
                    .bind(entry.ts)
                    .bind(&entry.owner_id)
                    .bind(entry.action)
                    .bind(&entry.object_id)
                    .bind(&entry.client_addr)
                    .bind(entry.ts - how.window)
                    .bind(entry.ts - how.span)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if joined == 1 {
                        break;
                    }
                    if attempt == 0 && entry.client_addr.is_some() {
                        let addresses: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM activity WHERE owner_id = $1 AND action = $2 \
                             AND COALESCE(object_id, '') = COALESCE($3, '') \
                             AND client_addr IS NOT NULL AND ts >= $4",
                        )
                        .bind(&entry.owner_id)
                        .bind(entry.action)
                        .bind(&entry.object_id)
                        .bind(entry.ts - how.span)
                        .fetch_one(&mut *tx)
                        .await?;
                        if addresses >= how.addresses {
                            entry.client_addr = None;
                            continue;
                        }
                    }
                    $crate::store::activity::insert_activity!(&mut *tx, &entry).await?;
                    break;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_activity_store;
