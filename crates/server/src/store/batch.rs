//! Group commit of handshakes: the SQL behind `access::writer`, which gathers whatever is
//! waiting into one call of [`BatchStore::write_batch`]. The batch reads what each
//! signature is verified against and writes under the lock it checks it again under, so a
//! handshake costs the database only its share of one transaction. (Heartbeats are telemetry,
//! flushed from memory: see `store::telemetry`.)

use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard};

use super::{AgentCredentials, HandshakeAttempt, HandshakeOutcome, StoreError};

/// The handshake batches' connection, held between batches instead of checked out of a
/// pool for each: a pool pings a connection before handing it out and again when it is
/// given back (sqlx's `test_before_acquire` and its release check), two round trips to the
/// database's thread or server per batch on the critical path (the batch's `BEGIN` measured
/// 1.3–2.2 ms, docs/benchmarks.md). Only the writer task uses it, one batch at a time. A
/// batch that fails, or is dropped half-way, closes the connection instead of putting it
/// back (the database then rolls its transaction back and drops its locks), and the next
/// batch opens a new one from `pool` (with the pool's connect-time settings).
pub struct BatchConnection<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    held: Mutex<Option<DB::Connection>>,
}

impl<DB: sqlx::Database> BatchConnection<DB> {
    pub fn new(pool: sqlx::Pool<DB>) -> Self {
        Self {
            pool,
            held: Mutex::new(None),
        }
    }

    /// The connection, opened if none is held; [`Held::keep`] gives it back.
    pub async fn take(&self) -> Result<Held<'_, DB>, StoreError> {
        let mut slot = self.held.lock().await;
        let conn = match slot.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?.detach(),
        };
        Ok(Held {
            slot,
            conn: Some(conn),
            keep: false,
        })
    }
}

/// The batches' connection while one uses it: closed on drop unless [`Held::keep`] was
/// called after a batch that ended cleanly (committed or explicitly rolled back).
pub struct Held<'a, DB: sqlx::Database> {
    slot: MutexGuard<'a, Option<DB::Connection>>,
    conn: Option<DB::Connection>,
    keep: bool,
}

impl<DB: sqlx::Database> Held<'_, DB> {
    pub fn conn(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("held until dropped")
    }

    /// Puts the connection back for the next batch.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl<DB: sqlx::Database> Drop for Held<'_, DB> {
    fn drop(&mut self) {
        if self.keep {
            *self.slot = self.conn.take();
        }
    }
}

/// An accepted handshake's use of its agent's credentials: `secret_last_used_at` is
/// telemetry, kept in memory (`access::latest`) and written at most a second later with
/// [`BatchStore::write_secret_uses`], not in the batch's durable transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretUse {
    pub agent_id: String,
    pub at: i64,
    /// The credentials the handshake was verified against: the time is written only
    /// while the agent still has them (a rotation since then reset it to "never").
    pub creds: AgentCredentials,
}

/// Tells whether attempt `i`'s signature is valid under the credentials of its agent as
/// stored (`None`: no such agent).
pub type VerifyFn<'a> = dyn FnMut(usize, Option<&AgentCredentials>) -> bool + Send + 'a;

#[async_trait]
pub trait BatchStore {
    /// Verifies and records handshakes in one transaction (SPEC §2). First, one statement
    /// reads the credentials of every agent named, without a row lock (which only a known
    /// agent would pay for); `verify` is then called once for every attempt, known agent or
    /// not (it checks an unknown agent's signature against a throwaway credential, so every
    /// refusal costs the same, and all answers wait for the batch). The verified agents'
    /// rows are then locked (PostgreSQL; SQLite's transaction holds the write lock from its
    /// start) and must still hold the credentials verified against. A valid signature never
    /// used before (in the database or earlier in the batch) is recorded with its token,
    /// and its agent's row is returned as read under the lock. A rotation, identity switch,
    /// re-enrollment or deletion commits either before the lock (and the handshake is
    /// refused unless its signature is valid under what it left) or after this commit (and
    /// revokes the token). Outcomes are in `attempts` order.
    async fn write_batch(
        &self,
        attempts: &[HandshakeAttempt],
        verify: &mut VerifyFn<'_>,
    ) -> Result<Vec<HandshakeOutcome>, StoreError>;

    /// Sets each agent's `secret_last_used_at` to the use's time, unless it is already
    /// later or the agent's credentials are no longer the ones the use was verified
    /// against (rotated, switched, re-enrolled or deleted since). `uses` holds at most one
    /// use an agent.
    async fn write_secret_uses(&self, uses: &[SecretUse]) -> Result<(), StoreError>;
}

/// The batch runs on the store's `handshakes` connection ([`BatchConnection`]). `$begin`: the statement that opens the
/// batch's transaction; on SQLite `BEGIN IMMEDIATE`, which takes the database's write lock
/// before the first read (a deferred transaction that read first could not write once
/// another connection had; and no rotation can commit between the read and the writes).
/// `$lock_rows`: on a backend with row locks, the clause that locks the selected rows for
/// the writes that follow (`" FOR NO KEY UPDATE"`), else `""`. With row locks, the rows of
/// the agents whose signatures verified are locked, in one statement, in ascending id
/// order, and their credentials compared with those verified against: two batches (on two
/// replicas) touching overlapping agents then wait for each other instead of deadlocking,
/// and any other transaction that locks more than one agent row must take them in the same
/// order.
macro_rules! impl_batch_store {
    ($store:ty, $db:ty, $begin:expr, $lock_rows:expr, $sql:path) => {
        /// One batch (see `BatchStore::write_batch`) on the batches' held connection.
        async fn handshake_batch(
            conn: &mut <$db as sqlx::Database>::Connection,
            attempts: &[HandshakeAttempt],
            verify: &mut $crate::store::batch::VerifyFn<'_>,
        ) -> Result<Vec<HandshakeOutcome>, StoreError> {
            use sqlx::Connection;
            use std::collections::{BTreeSet, HashSet};
            use $sql as sql;
            let mut tx = conn.begin_with($begin).await?;
            // Every agent named, read without a lock: a row lock taken only for a known
            // agent would make its refusal slower than an unknown one's (SPEC §2).
            let agents: BTreeSet<&str> = attempts.iter().map(|a| a.agent_id.as_str()).collect();
            let stored = sql::credentials(&mut tx, &agents, "").await?;
            let mut outcomes = vec![HandshakeOutcome::Refused; attempts.len()];
            let mut seen = HashSet::new();
            let mut candidates = Vec::with_capacity(attempts.len());
            for (i, a) in attempts.iter().enumerate() {
                if !verify(i, stored.get(&a.agent_id)) {
                    continue;
                }
                if seen.insert((a.agent_id.as_str(), a.signature.as_str())) {
                    candidates.push(i);
                } else {
                    outcomes[i] = HandshakeOutcome::Replayed;
                }
            }
            if !$lock_rows.is_empty() && !candidates.is_empty() {
                // Lock the verified agents' rows (see the macro's doc) and keep only those
                // whose credentials are still the ones verified against: a rotation,
                // switch, re-enrollment or deletion that committed meanwhile wins.
                let verified: BTreeSet<&str> = candidates
                    .iter()
                    .map(|&i| attempts[i].agent_id.as_str())
                    .collect();
                let locked = sql::credentials(&mut tx, &verified, $lock_rows).await?;
                candidates.retain(|&i| {
                    let id = &attempts[i].agent_id;
                    locked.get(id).is_some() && locked.get(id) == stored.get(id)
                });
            }
            if candidates.is_empty() {
                // Nothing to write. Rolled back here, not on drop: the held connection
                // is not pinged on release, which is what sends a dropped transaction's
                // ROLLBACK (and would have left rows locked until the next batch).
                tx.rollback().await?;
                return Ok(outcomes);
            }
            let chosen: Vec<&HandshakeAttempt> =
                candidates.iter().map(|&i| &attempts[i]).collect();
            let recorded = sql::record(&mut tx, &chosen).await?;
            if recorded
                .iter()
                .any(|o| matches!(o, HandshakeOutcome::Accepted(_)))
            {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            for (&i, outcome) in candidates.iter().zip(recorded) {
                outcomes[i] = outcome;
            }
            Ok(outcomes)
        }

        #[async_trait::async_trait]
        impl $crate::store::BatchStore for $store {
            async fn write_batch(
                &self,
                attempts: &[HandshakeAttempt],
                verify: &mut $crate::store::batch::VerifyFn<'_>,
            ) -> Result<Vec<HandshakeOutcome>, StoreError> {
                if attempts.is_empty() {
                    return Ok(Vec::new());
                }
                let mut held = self.handshakes.take().await?;
                let outcomes = handshake_batch(held.conn(), attempts, verify).await?;
                held.keep();
                Ok(outcomes)
            }

            async fn write_secret_uses(
                &self,
                uses: &[$crate::store::SecretUse],
            ) -> Result<(), StoreError> {
                use sqlx::QueryBuilder;
                if uses.is_empty() {
                    return Ok(());
                }
                let mut sorted: Vec<&$crate::store::SecretUse> = uses.iter().collect();
                sorted.sort_unstable_by(|a, b| a.agent_id.cmp(&b.agent_id));
                let mut tx = self.telemetry.begin().await?;
                for chunk in sorted.chunks($crate::store::telemetry::ROWS_PER_STATEMENT) {
                    if !$lock_rows.is_empty() {
                        // Row locks in ascending id order, as every multi-row writer.
                        let mut q = QueryBuilder::<$db>::new("SELECT id FROM agents WHERE id IN (");
                        let mut ids = q.separated(", ");
                        for u in chunk {
                            ids.push_bind(&u.agent_id);
                        }
                        q.push(") ORDER BY id").push($lock_rows);
                        q.build().execute(&mut *tx).await?;
                    }
                    let mut q = QueryBuilder::<$db>::new(
                        "WITH u (id, at, identity, secret_sealed, public_key) AS (",
                    );
                    q.push_values(chunk, |mut b, u| {
                        b.push_bind(&u.agent_id)
                            .push_bind(u.at)
                            .push_bind(&u.creds.identity)
                            .push_bind(&u.creds.secret_sealed)
                            .push_bind(&u.creds.public_key);
                    });
                    q.push(
                        ") UPDATE agents SET secret_last_used_at = u.at FROM u \
                         WHERE agents.id = u.id AND agents.identity = u.identity \
                         AND agents.secret_sealed IS NOT DISTINCT FROM u.secret_sealed \
                         AND agents.public_key IS NOT DISTINCT FROM u.public_key \
                         AND (agents.secret_last_used_at IS NULL OR agents.secret_last_used_at < u.at)",
                    );
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_batch_store;
