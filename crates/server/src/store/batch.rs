//! Group commit of handshakes: the SQL behind `access::writer`, which gathers whatever is
//! waiting into one call of [`BatchStore::write_batch`]. The batch reads what each
//! signature is verified against and writes under the lock it checks it again under, so a
//! handshake costs the database only its share of one transaction. (Heartbeats are telemetry,
//! flushed from memory: see `store::telemetry`.)

use async_trait::async_trait;

use super::{AgentCredentials, HandshakeAttempt, HandshakeOutcome, StoreError};

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
}

/// The batch runs on the store's `handshakes` pool. `$begin`: the statement that opens the
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
    ($store:ty, $db:ty, $begin:expr, $lock_rows:expr) => {
        impl $store {
            /// The credentials of the agents `ids` (ascending), read with `lock` appended.
            async fn credentials(
                tx: &mut sqlx::Transaction<'static, $db>,
                ids: &std::collections::BTreeSet<&str>,
                lock: &str,
            ) -> Result<
                std::collections::HashMap<String, $crate::store::AgentCredentials>,
                StoreError,
            > {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, identity, secret_sealed, public_key FROM agents WHERE id IN (",
                );
                let mut each = q.separated(", ");
                for id in ids {
                    each.push_bind(*id);
                }
                q.push(") ORDER BY id").push(lock);
                Ok(
                    q.build_query_as::<(String, String, Option<String>, Option<String>)>()
                        .fetch_all(&mut **tx)
                        .await?
                        .into_iter()
                        .map(|(id, identity, secret_sealed, public_key)| {
                            let creds = $crate::store::AgentCredentials {
                                identity,
                                secret_sealed,
                                public_key,
                            };
                            (id, creds)
                        })
                        .collect(),
                )
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::BatchStore for $store {
            async fn write_batch(
                &self,
                attempts: &[HandshakeAttempt],
                verify: &mut $crate::store::batch::VerifyFn<'_>,
            ) -> Result<Vec<HandshakeOutcome>, StoreError> {
                use sqlx::QueryBuilder;
                use std::collections::{BTreeSet, HashMap, HashSet};
                use $crate::store::AgentRow;
                if attempts.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.handshakes.begin_with($begin).await?;
                // Every agent named, read without a lock: a row lock taken only for a known
                // agent would make its refusal slower than an unknown one's (SPEC §2).
                let agents: BTreeSet<&str> = attempts.iter().map(|a| a.agent_id.as_str()).collect();
                let stored = Self::credentials(&mut tx, &agents, "").await?;
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
                    let locked = Self::credentials(&mut tx, &verified, $lock_rows).await?;
                    candidates.retain(|&i| {
                        let id = &attempts[i].agent_id;
                        locked.get(id).is_some() && locked.get(id) == stored.get(id)
                    });
                }
                if candidates.is_empty() {
                    // Nothing to write: rolled back on drop.
                    return Ok(outcomes);
                }
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO used_signatures (agent_id, signature, seen_at) ",
                );
                q.push_values(&candidates, |mut b, &i| {
                    let a = &attempts[i];
                    b.push_bind(&a.agent_id)
                        .push_bind(&a.signature)
                        .push_bind(a.now);
                });
                q.push(
                    " ON CONFLICT (agent_id, signature) DO NOTHING RETURNING agent_id, signature",
                );
                let fresh: HashSet<(String, String)> = q
                    .build_query_as::<(String, String)>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                let (accepted, replayed): (Vec<usize>, Vec<usize>) =
                    candidates.into_iter().partition(|&i| {
                        let a = &attempts[i];
                        fresh.contains(&(a.agent_id.clone(), a.signature.clone()))
                    });
                for i in replayed {
                    outcomes[i] = HandshakeOutcome::Replayed;
                }
                if accepted.is_empty() {
                    return Ok(outcomes);
                }
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO agent_tokens (token_hash, agent_id, expires_at) ",
                );
                q.push_values(&accepted, |mut b, &i| {
                    let a = &attempts[i];
                    b.push_bind(&a.token_hash)
                        .push_bind(&a.agent_id)
                        .push_bind(a.expires_at);
                });
                q.build().execute(&mut *tx).await?;
                // The answers' rows, read under the lock and after the writes above.
                let now = accepted
                    .iter()
                    .map(|&i| attempts[i].now)
                    .max()
                    .unwrap_or_default();
                let mut q = QueryBuilder::<$db>::new("UPDATE agents SET secret_last_used_at = ");
                q.push_bind(now).push(" WHERE id IN (");
                let mut ids = q.separated(", ");
                let shaking: BTreeSet<&str> = accepted
                    .iter()
                    .map(|&i| attempts[i].agent_id.as_str())
                    .collect();
                for id in shaking {
                    ids.push_bind(id);
                }
                q.push(") RETURNING *");
                let rows: HashMap<String, AgentRow> = q
                    .build_query_as::<AgentRow>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|r| (r.id.clone(), r))
                    .collect();
                tx.commit().await?;
                for i in accepted {
                    // Locked above, so still there.
                    if let Some(row) = rows.get(&attempts[i].agent_id) {
                        outcomes[i] = HandshakeOutcome::Accepted(Box::new(row.clone()));
                    }
                }
                Ok(outcomes)
            }
        }
    };
}
pub(crate) use impl_batch_store;
