//! The owner's fleets, each with its agent count: counted on every request below
//! 2 000 agents in fleets, kept and recounted in the background above (`access::counts`),
//! so listing the fleets of 100 000 agents does not count them on every call.

use std::collections::HashMap;

use super::*;
use crate::access::counts;

impl Owner {
    pub async fn fleets(&self) -> ApiResult<Vec<FleetView>> {
        let rows = self.state.0.store.list_fleets(self.id()).await?;
        let counts = self.fleet_counts().await?;
        Ok(rows
            .into_iter()
            .map(|f| {
                let n = counts.get(&f.id).copied().unwrap_or(0);
                FleetView::new(f, n)
            })
            .collect())
    }

    /// The owner's agents per fleet id.
    async fn fleet_counts(&self) -> ApiResult<HashMap<String, i64>> {
        let counts = counts::kept(
            &self.state,
            |s| &s.0.fleet_counts,
            self.id(),
            None,
            |st, owner, _| async move { st.0.store.fleet_counts(&owner).await },
        )
        .await?;
        Ok(counts.into_iter().collect())
    }

    /// A fleet by id or, failing that, by name.
    pub async fn fleet_by_id_or_name(&self, key: &str) -> ApiResult<Option<FleetView>> {
        let fleets = self.fleets().await?;
        let by_id = fleets.iter().position(|f| f.id == key);
        let found = by_id.or_else(|| fleets.iter().position(|f| f.name == key));
        Ok(found.and_then(|i| fleets.into_iter().nth(i)))
    }

    pub async fn fleet(&self, id: &str) -> ApiResult<FleetView> {
        let id = &parse_fleet_id(id)?;
        let row = self.state.0.store.get_fleet(self.id(), id).await?;
        let row = row.ok_or(ApiError::NotFound)?;
        let n = self.fleet_counts().await?.get(&row.id).copied();
        Ok(FleetView::new(row, n.unwrap_or(0)))
    }

    /// The id of one of the owner's fleets (not counted); 404 for any other.
    pub(super) async fn own_fleet(&self, id: &str) -> ApiResult<String> {
        let id = &parse_fleet_id(id)?;
        let row = self.state.0.store.get_fleet(self.id(), id).await?;
        Ok(row.ok_or(ApiError::NotFound)?.id)
    }

    pub async fn create_fleet(&self, name: &Name) -> ApiResult<FleetView> {
        let name = name.as_str();
        let row = FleetRow {
            id: AgentId::new_v4().to_string(),
            owner_id: self.id().into(),
            name: name.into(),
            created_at: self.state.now(),
        };
        self.state
            .0
            .store
            .create_fleet(&row)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict => {
                    ApiError::Conflict(format!("a fleet named {name:?} already exists"))
                }
                other => other.into(),
            })?;
        self.state.notify_fleet(self.id(), &row.id, false);
        Ok(FleetView::new(row, 0))
    }

    pub async fn delete_fleet(&self, id: &str) -> ApiResult<()> {
        let id = &parse_fleet_id(id)?;
        match self.state.0.store.delete_fleet(self.id(), id).await? {
            None => Err(ApiError::NotFound),
            Some(false) => Err(ApiError::Conflict("the fleet still holds agents".into())),
            Some(true) => {
                self.state.notify_fleet(self.id(), id, true);
                Ok(())
            }
        }
    }
}
