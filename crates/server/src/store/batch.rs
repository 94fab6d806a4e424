//! Group commit of handshakes: the SQL behind `access::writer`, which gathers whatever is
//! waiting into one call of [`BatchStore::write_batch`]. The batch reads what each
//! signature is verified against, under the lock it then writes under, so a handshake
//! costs the database only its share of one transaction. (Heartbeats are telemetry,
//! flushed from memory: see `store::telemetry`.)

use async_trait::async_trait;

use super::{AgentCredentials, HandshakeAttempt, HandshakeOutcome, StoreError};

/// Tells whether attempt `i`'s signature is valid under the credentials of its agent as
/// stored (`None`: no such agent).
pub type VerifyFn<'a> = dyn FnMut(usize, Option<&AgentCredentials>) -> bool + Send + 'a;

#[async_trait]
pub trait BatchStore {
    /// Verifies and records handshakes in one transaction (SPEC §2). First, one statement
    /// locks the row of every agent named and reads its credentials; `verify` is then
    /// called once for every attempt, known agent or not (it checks an unknown agent's
    /// signature against a throwaway credential, so every refusal costs the same, and the
    /// answers all wait for the batch). A valid signature never used before (in the
    /// database or earlier in the batch) is recorded with its token, and its agent's row
    /// is returned as read under the lock. A rotation, identity switch, re-enrollment or
    /// deletion commits either before the lock (and the signature is checked against what
    /// it left) or after this commit (and revokes the token). Outcomes are in `attempts`
    /// order.
    async fn write_batch(
        &self,
        attempts: &[HandshakeAttempt],
        verify: &mut VerifyFn<'_>,
    ) -> Result<Vec<HandshakeOutcome>, StoreError>;
}

/// The batch runs on the store's `handshakes` pool. `$begin`: the statement that opens the batch's transaction; on SQLite `BEGIN IMMEDIATE`,
/// which takes the database's write lock before the first read (a deferred transaction
/// that read first could not write once another connection had). `$lock_rows`: on a
/// backend with row locks, the clause that locks the selected rows for the writes that
/// follow (`" FOR NO KEY UPDATE"`), else `""`. With row locks, every agent row the batch
/// reads is locked first, in one statement, in ascending id order: two batches (on two
/// replicas) touching overlapping agents then wait for each other instead of deadlocking,
/// and any other transaction that locks more than one agent row must take them in the same
/// order.
macro_rules! impl_batch_store {
    ($store:ty, $db:ty, $begin:expr, $lock_rows:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::BatchStore for $store {
            async fn write_batch(
                &self,
                attempts: &[HandshakeAttempt],
                verify: &mut $crate::store::batch::VerifyFn<'_>,
            ) -> Result<Vec<HandshakeOutcome>, StoreError> {
                use sqlx::QueryBuilder;
                use std::collections::{BTreeSet, HashMap, HashSet};
                use $crate::store::{AgentCredentials, AgentRow};
                if attempts.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.handshakes.begin_with($begin).await?;
                // Every agent named, in ascending id order (see the macro's doc).
                let agents: BTreeSet<&str> = attempts.iter().map(|a| a.agent_id.as_str()).collect();
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT id, identity, secret_sealed, public_key FROM agents WHERE id IN (",
                );
                let mut ids = q.separated(", ");
                for id in &agents {
                    ids.push_bind(*id);
                }
                q.push(") ORDER BY id").push($lock_rows);
                let stored: HashMap<String, AgentCredentials> = q
                    .build_query_as::<(String, String, Option<String>, Option<String>)>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|(id, identity, secret_sealed, public_key)| {
                        (
                            id,
                            AgentCredentials {
                                identity,
                                secret_sealed,
                                public_key,
                            },
                        )
                    })
                    .collect();
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
