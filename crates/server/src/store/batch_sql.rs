//! The statements of a handshake batch (`batch::impl_batch_store`) that differ by backend.
//! SQLite binds lists as they come (its parser is 0.2 % of a batch's profile); PostgreSQL
//! binds arrays, so every statement has one shape whatever the batch's size and stays
//! prepared, and records signatures and tokens and reads the answers' rows in one statement.

use std::collections::{BTreeSet, HashMap};

use crate::store::{AgentCredentials, AgentRow, HandshakeAttempt, HandshakeOutcome, StoreError};

type Credentials = HashMap<String, AgentCredentials>;

fn creds_by_id(rows: Vec<(String, String, Option<String>, Option<String>)>) -> Credentials {
    rows.into_iter()
        .map(|(id, identity, secret_sealed, public_key)| {
            let creds = AgentCredentials {
                identity,
                secret_sealed,
                public_key,
            };
            (id, creds)
        })
        .collect()
}

pub mod sqlite {
    use sqlx::{QueryBuilder, Sqlite, Transaction};

    use super::*;

    /// The credentials of the agents `ids` (ascending), read with `lock` appended.
    pub async fn credentials(
        tx: &mut Transaction<'_, Sqlite>,
        ids: &BTreeSet<&str>,
        lock: &str,
    ) -> Result<Credentials, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, identity, secret_sealed, public_key FROM agents WHERE id IN (",
        );
        let mut each = q.separated(", ");
        for id in ids {
            each.push_bind(*id);
        }
        q.push(") ORDER BY id").push(lock);
        Ok(creds_by_id(q.build_query_as().fetch_all(&mut **tx).await?))
    }

    /// Records the verified, distinct attempts `chosen`: a signature not used before is
    /// inserted with its token and answered with its agent's row; a used one is a replay.
    pub async fn record(
        tx: &mut Transaction<'_, Sqlite>,
        chosen: &[&HandshakeAttempt],
    ) -> Result<Vec<HandshakeOutcome>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO used_signatures (agent_id, signature, seen_at) ",
        );
        q.push_values(chosen, |mut b, a| {
            b.push_bind(&a.agent_id)
                .push_bind(&a.signature)
                .push_bind(a.now);
        });
        q.push(" ON CONFLICT (agent_id, signature) DO NOTHING RETURNING agent_id, signature");
        let fresh: std::collections::HashSet<(String, String)> = q
            .build_query_as::<(String, String)>()
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        let accepted: Vec<&HandshakeAttempt> = chosen
            .iter()
            .copied()
            .filter(|a| fresh.contains(&(a.agent_id.clone(), a.signature.clone())))
            .collect();
        if accepted.is_empty() {
            return Ok(vec![HandshakeOutcome::Replayed; chosen.len()]);
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO agent_tokens (token_hash, agent_id, expires_at) ",
        );
        q.push_values(&accepted, |mut b, a| {
            b.push_bind(&a.token_hash)
                .push_bind(&a.agent_id)
                .push_bind(a.expires_at);
        });
        q.build().execute(&mut **tx).await?;
        // The answers' rows, read under the lock and after the writes above. (The secret's
        // last use is written later, from memory: `SecretUse`.)
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM agents WHERE id IN (");
        let mut ids = q.separated(", ");
        let shaking: BTreeSet<&str> = accepted.iter().map(|a| a.agent_id.as_str()).collect();
        for id in shaking {
            ids.push_bind(id);
        }
        q.push(")");
        let rows: HashMap<String, AgentRow> = q
            .build_query_as::<AgentRow>()
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        Ok(chosen
            .iter()
            .map(|a| {
                if !fresh.contains(&(a.agent_id.clone(), a.signature.clone())) {
                    return HandshakeOutcome::Replayed;
                }
                // Locked, so still there.
                match rows.get(&a.agent_id) {
                    Some(row) => HandshakeOutcome::Accepted(Box::new(row.clone())),
                    None => HandshakeOutcome::Refused,
                }
            })
            .collect())
    }
}

pub mod postgres {
    use sqlx::{FromRow, Postgres, Row, Transaction};

    use super::*;

    /// The credentials of the agents `ids` (ascending), read with `lock` appended (one of
    /// two fixed statements).
    pub async fn credentials(
        tx: &mut Transaction<'_, Postgres>,
        ids: &BTreeSet<&str>,
        lock: &str,
    ) -> Result<Credentials, StoreError> {
        const READ: &str = "SELECT id, identity, secret_sealed, public_key FROM agents \
                            WHERE id = ANY($1) ORDER BY id";
        const LOCK: &str = "SELECT id, identity, secret_sealed, public_key FROM agents \
                            WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";
        let sql = match lock {
            "" => READ,
            " FOR NO KEY UPDATE" => LOCK,
            other => unreachable!("lock clause {other:?}"),
        };
        let ids: Vec<&str> = ids.iter().copied().collect();
        Ok(creds_by_id(
            sqlx::query_as(sql).bind(ids).fetch_all(&mut **tx).await?,
        ))
    }

    /// As `sqlite::record`, in one statement: the signatures inserted, the tokens of those
    /// that were new, and those agents' rows (read under the batch's row locks).
    pub async fn record(
        tx: &mut Transaction<'_, Postgres>,
        chosen: &[&HandshakeAttempt],
    ) -> Result<Vec<HandshakeOutcome>, StoreError> {
        const RECORD: &str = "WITH s AS ( \
               INSERT INTO used_signatures (agent_id, signature, seen_at) \
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) \
               ON CONFLICT (agent_id, signature) DO NOTHING RETURNING agent_id, signature), \
             t AS ( \
               INSERT INTO agent_tokens (token_hash, agent_id, expires_at) \
               SELECT u.token_hash, u.agent_id, u.expires_at \
               FROM UNNEST($4::text[], $1::text[], $2::text[], $5::bigint[]) \
                 AS u (token_hash, agent_id, signature, expires_at) \
               JOIN s ON s.agent_id = u.agent_id AND s.signature = u.signature) \
             SELECT s.signature AS used_signature, a.* FROM s JOIN agents a ON a.id = s.agent_id";
        let col = |f: fn(&HandshakeAttempt) -> &str| -> Vec<&str> {
            chosen.iter().map(|a| f(a)).collect()
        };
        let rows = sqlx::query(RECORD)
            .bind(col(|a| &a.agent_id))
            .bind(col(|a| &a.signature))
            .bind(chosen.iter().map(|a| a.now).collect::<Vec<i64>>())
            .bind(col(|a| &a.token_hash))
            .bind(chosen.iter().map(|a| a.expires_at).collect::<Vec<i64>>())
            .fetch_all(&mut **tx)
            .await?;
        let mut accepted: HashMap<(String, String), AgentRow> = HashMap::new();
        for row in rows {
            let signature: String = row.try_get("used_signature")?;
            let agent = AgentRow::from_row(&row)?;
            accepted.insert((agent.id.clone(), signature), agent);
        }
        Ok(chosen
            .iter()
            .map(
                |a| match accepted.remove(&(a.agent_id.clone(), a.signature.clone())) {
                    Some(row) => HandshakeOutcome::Accepted(Box::new(row)),
                    None => HandshakeOutcome::Replayed,
                },
            )
            .collect())
    }
}
