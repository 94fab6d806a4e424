//! An agent's config history as its owner reads it: the stored versions (number, time,
//! saving session) and any one of their envelopes, opened from the at-rest layer only.
//! The server cannot read the envelopes; the dashboard decrypts them to compare or
//! restore.

use super::*;
use crate::access::{ConfigVersionDetail, ConfigVersionView};
use crate::store::HistoryRow;

/// `saved_by` of what the operator CLI saves (it has no session).
const OPERATOR: &str = "operator";

fn view(row: HistoryRow) -> ConfigVersionView {
    ConfigVersionView {
        version: row.version,
        saved_at: row.saved_at,
        saved_by: row.saved_by,
    }
}

impl Owner {
    /// The public id of this request's session (never the token or its hash): the id
    /// `GET /api/me/sessions` lists it under.
    pub fn session_id(&self) -> String {
        if self.token_hash.is_empty() {
            OPERATOR.into()
        } else {
            self.session_id.clone()
        }
    }

    /// The kept versions of an agent's config, newest first.
    pub async fn config_history(&self, id: &str) -> ApiResult<Vec<ConfigVersionView>> {
        let id = parse_agent_id(id)?.to_string();
        let rows = self
            .state
            .0
            .store
            .config_history(self.id(), &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(rows.into_iter().map(view).collect())
    }

    /// One kept version with its envelope; 404 once it has been pruned.
    pub async fn config_version(&self, id: &str, version: i64) -> ApiResult<ConfigVersionDetail> {
        let id = parse_agent_id(id)?.to_string();
        let (row, sealed) = self
            .state
            .0
            .store
            .config_version(self.id(), &id, version)
            .await?
            .ok_or(ApiError::NotFound)?;
        let bytes = self.state.open(
            "config_history",
            "envelope_sealed",
            &history_row(&id, row.version),
            &sealed,
        )?;
        Ok(ConfigVersionDetail {
            version: view(row),
            config: serde_json::from_slice(&bytes).map_err(ApiError::internal)?,
        })
    }
}
