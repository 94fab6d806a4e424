//! Group commit of verified handshakes: the SQL behind `access::writer`, which gathers
//! whatever is waiting into one call of [`BatchStore::write_batch`]. (Heartbeats are
//! telemetry, flushed from memory: see `store::telemetry`.)

use async_trait::async_trait;

use super::{HandshakeAccept, HandshakeOutcome, StoreError};

#[async_trait]
pub trait BatchStore {
    /// Group commit of verified handshakes, in one transaction. A handshake is accepted
    /// only if its agent still holds its `credential` (the sealed secret or public key its
    /// signature was checked against: a rotation, switch, re-enrollment or deletion that
    /// commits first wins) and its signature was never used; then its token is stored.
    /// Outcomes are in `handshakes` order.
    async fn write_batch(
        &self,
        handshakes: &[HandshakeAccept],
    ) -> Result<Vec<HandshakeOutcome>, StoreError>;
}

/// `$lock_rows`: on a backend with row locks, the clause that locks the selected rows for
/// the updates that follow (`Some(" FOR NO KEY UPDATE")`), or `None` where a transaction
/// holds the whole database (SQLite). With row locks, every agent row the batch writes is
/// locked first, in one statement, in ascending id order: two batches (on two replicas)
/// touching overlapping agents then wait for each other instead of deadlocking, and any
/// other transaction that locks more than one agent row must take them in the same order.
macro_rules! impl_batch_store {
    ($store:ty, $db:ty, $lock_rows:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::BatchStore for $store {
            async fn write_batch(
                &self,
                handshakes: &[HandshakeAccept],
            ) -> Result<Vec<HandshakeOutcome>, StoreError> {
                use sqlx::QueryBuilder;
                if handshakes.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.pool.begin().await?;
                let mut outcomes = vec![HandshakeOutcome::SecretChanged; handshakes.len()];
                // Every agent the batch writes, in ascending id order (see the macro's doc).
                let agents: std::collections::BTreeSet<&str> =
                    handshakes.iter().map(|h| h.agent_id.as_str()).collect();
                let lock_rows: Option<&str> = $lock_rows;
                if let Some(lock) = lock_rows {
                    let mut q = QueryBuilder::<$db>::new("SELECT id FROM agents WHERE id IN (");
                    let mut ids = q.separated(", ");
                    for id in &agents {
                        ids.push_bind(*id);
                    }
                    q.push(") ORDER BY id").push(lock);
                    q.build().fetch_all(&mut *tx).await?;
                }
                {
                    // Under the agents' row locks, so a rotation is ordered against this.
                    let now = handshakes.iter().map(|h| h.now).max().unwrap_or_default();
                    let mut q = QueryBuilder::<$db>::new("UPDATE agents SET secret_last_used_at = ");
                    q.push_bind(now).push(" WHERE id IN (");
                    let mut ids = q.separated(", ");
                    let shaking: std::collections::BTreeSet<&str> =
                        handshakes.iter().map(|h| h.agent_id.as_str()).collect();
                    for id in shaking {
                        ids.push_bind(id);
                    }
                    // The credential each agent is verified against now (see `IdentityStore`).
                    q.push(") RETURNING id, CASE WHEN identity = 'ed25519' THEN public_key ELSE secret_sealed END");
                    let current: std::collections::HashMap<String, Option<String>> =
                        q.build_query_as::<(String, Option<String>)>().fetch_all(&mut *tx).await?.into_iter().collect();
                    let mut seen = std::collections::HashSet::new();
                    let candidates: Vec<usize> = (0..handshakes.len())
                        .filter(|&i| {
                            let h = &handshakes[i];
                            if current.get(&h.agent_id).and_then(Option::as_ref) != Some(&h.credential) {
                                return false;
                            }
                            if !seen.insert((h.agent_id.as_str(), h.signature.as_str())) {
                                outcomes[i] = HandshakeOutcome::Replayed;
                                return false;
                            }
                            true
                        })
                        .collect();
                    if !candidates.is_empty() {
                        let mut q = QueryBuilder::<$db>::new(
                            "INSERT INTO used_signatures (agent_id, signature, seen_at) ",
                        );
                        q.push_values(&candidates, |mut b, &i| {
                            let h = &handshakes[i];
                            b.push_bind(&h.agent_id).push_bind(&h.signature).push_bind(h.now);
                        });
                        q.push(" ON CONFLICT (agent_id, signature) DO NOTHING RETURNING agent_id, signature");
                        let fresh: std::collections::HashSet<(String, String)> =
                            q.build_query_as::<(String, String)>().fetch_all(&mut *tx).await?.into_iter().collect();
                        let accepted: Vec<usize> = candidates
                            .into_iter()
                            .filter(|&i| {
                                let h = &handshakes[i];
                                let ok = fresh.contains(&(h.agent_id.clone(), h.signature.clone()));
                                outcomes[i] = if ok { HandshakeOutcome::Accepted } else { HandshakeOutcome::Replayed };
                                ok
                            })
                            .collect();
                        if !accepted.is_empty() {
                            let mut q = QueryBuilder::<$db>::new(
                                "INSERT INTO agent_tokens (token_hash, agent_id, expires_at) ",
                            );
                            q.push_values(&accepted, |mut b, &i| {
                                let h = &handshakes[i];
                                b.push_bind(&h.token_hash).push_bind(&h.agent_id).push_bind(h.expires_at);
                            });
                            q.build().execute(&mut *tx).await?;
                        }
                    }
                }
                tx.commit().await?;
                Ok(outcomes)
            }
        }
    };
}
pub(crate) use impl_batch_store;
