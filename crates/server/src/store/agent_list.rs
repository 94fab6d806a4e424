//! The owner's agent list at scale: filters, name search and sorts that are each an index
//! range scan (migrations 0013 and 0016), keyset pages, status counts, and the offline
//! sweep that keeps the stored status equal to the effective one.
//!
//! The stored `status` is the agent's last reported status until it misses three heartbeat
//! intervals; then [`ListStore::mark_offline`] writes `offline` (pending stays NULL). Each
//! replica runs the sweep on a timer (`access::sweep`), never in a read, so a filter or a
//! count lags the status a row shows by at most one sweep interval.

use async_trait::async_trait;

use super::{AgentRef, AgentRow, StoreError};

/// What the list is ordered by (then by id, so the order is total).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// The lowercased name (`name_fold`), in byte order.
    Name,
    Created,
    /// `last_seen` coarsely: the column `seen_key`, never-seen agents 0, which the heartbeat
    /// flush moves to `last_seen` only when the status changes or `last_seen` ran a step
    /// of one to three minutes (`telemetry::KEY_STEP_SECS`) past it (migrations 0017 and
    /// 0018; docs/api.md "Listing agents").
    LastSeen,
}

impl SortKey {
    /// The column of the key, as the indexes of migrations 0013 and 0016 name it.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Name => "name_fold",
            Self::Created => "created_at",
            Self::LastSeen => "seen_key",
        }
    }
}

impl AgentListing {
    /// The index made for this listing (migrations 0013 and 0016): the owner, then the
    /// fleet and the status when filtered, then the sort key and id. Each is an exact range
    /// for its filters in the list's order, whatever the search prefix adds.
    pub fn index(&self) -> String {
        format!(
            "agents_owner{}{}_{}",
            if self.fleet_id.is_some() {
                "_fleet"
            } else {
                ""
            },
            if self.status.is_some() { "_status" } else { "" },
            match self.sort {
                SortKey::Name => "name",
                SortKey::Created => "created",
                SortKey::LastSeen => "seen",
            }
        )
    }
}

/// A sort key's value in a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValue {
    Text(String),
    Int(i64),
}

/// One page of the list. `status` is pending, healthy, idle, error or offline.
#[derive(Debug, Clone)]
pub struct AgentListing {
    pub fleet_id: Option<String>,
    pub status: Option<String>,
    /// A prefix of `name_fold` (already lowercased).
    pub name_prefix: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    /// Keyset: rows strictly after this (key, id) in the list's order.
    pub after: Option<(KeyValue, String)>,
    /// The older offset paging (`page`), kept for existing callers.
    pub offset: i64,
    pub limit: i64,
    pub now: i64,
}

/// Agents of one owner (or one of its fleets) per stored status; `None` is pending.
pub type StatusCounts = Vec<(Option<String>, i64)>;

/// Rows the offline sweep marks per statement, so one sweep never holds SQLite's write
/// lock for long after an outage.
pub const SWEEP_BATCH: i64 = 1000;

#[async_trait]
pub trait ListStore {
    /// One page: at most `limit` rows of the owner in the listing's order.
    async fn list_agents(&self, owner: &str, l: &AgentListing)
        -> Result<Vec<AgentRow>, StoreError>;
    /// How many rows match the listing's filters (no keyset, no offset): the exact total
    /// of the older offset paging. Linear in the matches; the new paging does not call it.
    async fn count_listing(&self, owner: &str, l: &AgentListing) -> Result<i64, StoreError>;
    /// Per stored status, the owner's agents (in `fleet_id` when given): an index-only
    /// count over `(owner_id, status, …)` or the fleet's index range.
    async fn status_counts(
        &self,
        owner: &str,
        fleet_id: Option<&str>,
    ) -> Result<StatusCounts, StoreError>;
    /// Marks `offline` the agents whose offline deadline (last seen + 3 intervals) is
    /// before `now`, in batches of [`SWEEP_BATCH`]; reads first (one sequential read of
    /// the agents for the exact deadline: no index follows `last_seen`, which every
    /// heartbeat flush moves; migration 0018), so a sweep with nothing to do takes no write
    /// lock. Returns the agents it marked: each exactly once, also when replicas sweep
    /// the same database at the same time.
    async fn mark_offline(&self, now: i64) -> Result<Vec<AgentRef>, StoreError>;
    /// The database's plan for [`Self::list_agents`] (EXPLAIN QUERY PLAN on SQLite, EXPLAIN
    /// on PostgreSQL), one line per node, for the benchmark and the index tests. With
    /// `forbid_scans`, PostgreSQL is told to avoid sequential scans and sorts wherever it
    /// can (so a small table shows whether an index could serve the query).
    async fn explain_listing(
        &self,
        owner: &str,
        l: &AgentListing,
        forbid_scans: bool,
    ) -> Result<Vec<String>, StoreError>;
}

/// The WHERE clause of a listing (without keyset), pushed onto `q`.
macro_rules! push_filters {
    ($q:expr, $owner:expr, $l:expr) => {{
        $q.push(" WHERE owner_id = ").push_bind($owner.to_string());
        if let Some(f) = &$l.fleet_id {
            $q.push(" AND fleet_id = ").push_bind(f.clone());
        }
        match $l.status.as_deref() {
            None => {}
            Some("pending") => {
                $q.push(" AND status IS NULL");
            }
            Some("offline") => {
                $q.push(" AND status = 'offline'");
            }
            Some(s) => {
                // Also checked per row: an agent past its deadline that a concurrent
                // heartbeat batch wrote back is never listed under a live status.
                $q.push(" AND status = ")
                    .push_bind(s.to_string())
                    .push(" AND last_seen + 3 * heartbeat_interval >= ")
                    .push_bind($l.now);
            }
        }
        if let Some(p) = &$l.name_prefix {
            $q.push(" AND name_fold >= ")
                .push_bind(p.clone())
                .push(" AND name_fold < ")
                .push_bind(format!("{p}{}", char::MAX));
        }
    }};
}
pub(crate) use push_filters;

/// `$explain`: the backend's EXPLAIN prefix; `$plan_col`: the column of its plan text;
/// `$indexed_by`: name the listing's index (SQLite's `INDEXED BY`). Without statistics
/// SQLite takes the owner's name index for a search with a status or fleet, checking those
/// per row; PostgreSQL has no such clause and chooses by its statistics (autovacuum's
/// ANALYZE). `$skip_locked`: the offline sweep's row-lock clause (PostgreSQL's `FOR NO KEY
/// UPDATE SKIP LOCKED`; SQLite has one writer and none).
macro_rules! impl_list_store {
    ($store:ty, $db:ty, $explain:expr, $plan_col:expr, $indexed_by:expr, $skip_locked:expr) => {
        impl $store {
            /// The page's statement, after `head` (`SELECT * FROM agents`, or an EXPLAIN of
            /// it).
            fn listing_query<'a>(
                head: &str,
                owner: &str,
                l: &$crate::store::AgentListing,
            ) -> sqlx::QueryBuilder<'a, $db> {
                use $crate::store::KeyValue;
                let key = l.sort.sql();
                let (dir, op) = if l.descending {
                    ("DESC", "<")
                } else {
                    ("ASC", ">")
                };
                let mut q = sqlx::QueryBuilder::<$db>::new(head);
                if $indexed_by {
                    q.push(format!(" INDEXED BY {}", l.index()));
                }
                $crate::store::agent_list::push_filters!(q, owner, l);
                if let Some((k, id)) = &l.after {
                    q.push(format!(" AND ({key}, id) {op} ("));
                    match k {
                        KeyValue::Text(t) => q.push_bind(t.clone()),
                        KeyValue::Int(i) => q.push_bind(*i),
                    };
                    q.push(", ").push_bind(id.clone()).push(")");
                }
                // `status IS NULL` (pending) is no equality to PostgreSQL's planner, so
                // it would not see that the status index is in the key's order: naming
                // the (constant) status first lets it (it sorted 5 000 rows otherwise).
                let status = if l.status.as_deref() == Some("pending") {
                    format!("status {dir}, ")
                } else {
                    String::new()
                };
                q.push(format!(" ORDER BY {status}{key} {dir}, id {dir} LIMIT "))
                    .push_bind(l.limit);
                if l.offset > 0 {
                    q.push(" OFFSET ").push_bind(l.offset);
                }
                q
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::ListStore for $store {
            async fn list_agents(
                &self,
                owner: &str,
                l: &$crate::store::AgentListing,
            ) -> Result<Vec<$crate::store::AgentRow>, StoreError> {
                let mut q = Self::listing_query("SELECT * FROM agents", owner, l);
                Ok(q.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn explain_listing(
                &self,
                owner: &str,
                l: &$crate::store::AgentListing,
                forbid_scans: bool,
            ) -> Result<Vec<String>, StoreError> {
                use sqlx::Row;
                let mut tx = self.pool.begin().await?;
                if forbid_scans && $plan_col == 0 {
                    for off in ["enable_seqscan", "enable_sort", "enable_bitmapscan"] {
                        sqlx::query(&format!("SET LOCAL {off} = off"))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let head = format!("{} SELECT * FROM agents", $explain);
                let mut q = Self::listing_query(&head, owner, l);
                let rows = q.build().fetch_all(&mut *tx).await?;
                tx.rollback().await?;
                Ok(rows
                    .iter()
                    .filter_map(|r| r.try_get::<String, _>($plan_col).ok())
                    .collect())
            }

            async fn count_listing(
                &self,
                owner: &str,
                l: &$crate::store::AgentListing,
            ) -> Result<i64, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM agents");
                $crate::store::agent_list::push_filters!(q, owner, l);
                Ok(q.build_query_scalar().fetch_one(&self.pool).await?)
            }

            async fn status_counts(
                &self,
                owner: &str,
                fleet_id: Option<&str>,
            ) -> Result<$crate::store::StatusCounts, StoreError> {
                // Two statements, so each has its own index (an `$2 IS NULL OR` would
                // leave PostgreSQL's generic plan the owner's whole range).
                Ok(match fleet_id {
                    None => sqlx::query_as(
                        "SELECT status, COUNT(*) FROM agents WHERE owner_id = $1 GROUP BY status",
                    )
                    .bind(owner)
                    .fetch_all(&self.pool)
                    .await?,
                    Some(f) => {
                        sqlx::query_as(
                            "SELECT status, COUNT(*) FROM agents WHERE owner_id = $1 \
                         AND fleet_id = $2 GROUP BY status",
                        )
                        .bind(owner)
                        .bind(f)
                        .fetch_all(&self.pool)
                        .await?
                    }
                })
            }

            async fn mark_offline(
                &self,
                now: i64,
            ) -> Result<Vec<$crate::store::AgentRef>, StoreError> {
                // The exact deadline, read sequentially (migration 0018: an index of it,
                // or of the coarse key's, made heartbeat flushes write index entries).
                const DUE: &str = "status <> 'offline' AND last_seen + 3 * heartbeat_interval < $1";
                let due: Option<i32> =
                    sqlx::query_scalar(&format!("SELECT 1 FROM agents WHERE {DUE} LIMIT 1"))
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await?;
                let mut marked = Vec::new();
                if due.is_none() {
                    return Ok(marked);
                }
                loop {
                    // The condition again outside the sub-select: PostgreSQL re-checks it
                    // on a row a concurrent heartbeat or another replica's sweep just
                    // updated, and skips that row (so each agent is returned once).
                    // On PostgreSQL the sub-select skips rows locked elsewhere (a heartbeat
                    // flush or another replica's sweep holds them): a sweep never waits
                    // behind a flush, so neither can deadlock with the other; an agent
                    // skipped and still due is marked by the next sweep.
                    let done: Vec<$crate::store::AgentRef> = sqlx::query_as(&format!(
                        "UPDATE agents SET status = 'offline' WHERE id IN \
                         (SELECT id FROM agents WHERE {DUE} LIMIT $2{}) AND {DUE} \
                         RETURNING id, owner_id",
                        $skip_locked
                    ))
                    .bind(now)
                    .bind($crate::store::agent_list::SWEEP_BATCH)
                    .fetch_all(&self.pool)
                    .await?;
                    let last = (done.len() as i64) < $crate::store::agent_list::SWEEP_BATCH;
                    marked.extend(done);
                    if last {
                        return Ok(marked);
                    }
                }
            }
        }
    };
}
pub(crate) use impl_list_store;
