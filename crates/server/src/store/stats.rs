//! Figures for `/metrics`: the connection pool's use and agents counted by status.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait StatsStore {
    /// Connections open, and of them idle.
    fn pool_use(&self) -> (u32, u32);
    /// `(effective status, agents)` for every status that has agents.
    async fn agent_status_counts(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError>;
}

macro_rules! impl_stats_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::StatsStore for $store {
            fn pool_use(&self) -> (u32, u32) {
                let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
                (self.pool.size(), idle)
            }

            async fn agent_status_counts(
                &self,
                now: i64,
            ) -> Result<Vec<(String, i64)>, StoreError> {
                let sql = format!(
                    "SELECT COALESCE({}, 'healthy') AS s, COUNT(*) FROM agents GROUP BY s",
                    $crate::store::agents::EFFECTIVE_STATUS
                );
                Ok(sqlx::query_as(&sql).bind(now).fetch_all(&self.pool).await?)
            }
        }
    };
}
pub(crate) use impl_stats_store;
