//! The owner's fleets.

use super::*;

impl Owner {
    pub async fn fleets(&self) -> ApiResult<Vec<FleetView>> {
        let rows = self.state.0.store.list_fleets(self.id()).await?;
        Ok(rows.into_iter().map(FleetView::from).collect())
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
        row.map(FleetView::from).ok_or(ApiError::NotFound)
    }

    /// The id of one of the owner's fleets; 404 for any other.
    pub(super) async fn own_fleet(&self, id: &str) -> ApiResult<String> {
        Ok(self.fleet(id).await?.id)
    }

    pub async fn create_fleet(&self, name: &Name) -> ApiResult<FleetView> {
        let name = name.as_str();
        let row = FleetRow {
            id: AgentId::new_v4().to_string(),
            owner_id: self.id().into(),
            name: name.into(),
            created_at: self.state.now(),
            agent_count: 0,
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
        Ok(row.into())
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
