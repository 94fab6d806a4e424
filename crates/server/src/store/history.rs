//! Config history: the last [`HISTORY_KEPT`] envelopes of each agent, each sealed under
//! the at-rest layer like the current one. Rows are written (and pruned) by
//! `AgentStore::save_config` in the transaction of the save; this module reads them,
//! owner-scoped.

use async_trait::async_trait;
use sqlx::FromRow;

use super::StoreError;

/// How many versions of each agent's config are kept, the current one included.
pub const HISTORY_KEPT: i64 = 20;

/// The at-rest slot row of a history envelope: it binds the sealed value to its agent
/// and version, so a row copied to another agent or version fails to open.
pub fn history_row(agent_id: &str, version: i64) -> String {
    format!("{agent_id}/{version}")
}

/// The same text, computed in SQL (for the audit's row dump).
pub const HISTORY_ROW_SQL: &str = "agent_id || '/' || CAST(version AS TEXT)";

/// A version to record with a save.
pub struct HistoryEntry {
    pub sealed: String,
    pub saved_by: String,
    /// When it was saved (also the agent's `config_saved_at`).
    pub saved_at: i64,
}

/// One stored version, without its envelope.
#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    pub version: i64,
    pub saved_at: i64,
    pub saved_by: String,
}

#[async_trait]
pub trait HistoryStore {
    /// The owner's agent's versions, newest first; `None` when the agent is not theirs.
    async fn config_history(
        &self,
        owner: &str,
        agent_id: &str,
    ) -> Result<Option<Vec<HistoryRow>>, StoreError>;
    /// One version with its sealed envelope.
    async fn config_version(
        &self,
        owner: &str,
        agent_id: &str,
        version: i64,
    ) -> Result<Option<(HistoryRow, String)>, StoreError>;
}

macro_rules! impl_history_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::HistoryStore for $store {
            async fn config_history(
                &self,
                owner: &str,
                agent_id: &str,
            ) -> Result<Option<Vec<$crate::store::HistoryRow>>, StoreError> {
                let mine: Option<String> =
                    sqlx::query_scalar("SELECT id FROM agents WHERE owner_id = $1 AND id = $2")
                        .bind(owner)
                        .bind(agent_id)
                        .fetch_optional(&self.pool)
                        .await?;
                if mine.is_none() {
                    return Ok(None);
                }
                Ok(Some(
                    sqlx::query_as(
                        "SELECT h.version, h.saved_at, h.saved_by FROM config_history h \
                         JOIN agents a ON a.id = h.agent_id \
                         WHERE a.owner_id = $1 AND h.agent_id = $2 ORDER BY h.version DESC",
                    )
                    .bind(owner)
                    .bind(agent_id)
                    .fetch_all(&self.pool)
                    .await?,
                ))
            }

            async fn config_version(
                &self,
                owner: &str,
                agent_id: &str,
                version: i64,
            ) -> Result<Option<($crate::store::HistoryRow, String)>, StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT h.version, h.saved_at, h.saved_by, h.envelope_sealed \
                     FROM config_history h JOIN agents a ON a.id = h.agent_id \
                     WHERE a.owner_id = $1 AND h.agent_id = $2 AND h.version = $3",
                )
                .bind(owner)
                .bind(agent_id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
                Ok(match row {
                    None => None,
                    Some(r) => Some((
                        $crate::store::HistoryRow {
                            version: r.try_get("version")?,
                            saved_at: r.try_get("saved_at")?,
                            saved_by: r.try_get("saved_by")?,
                        },
                        r.try_get("envelope_sealed")?,
                    )),
                })
            }
        }
    };
}
pub(crate) use impl_history_store;
