//! Editing the owner's agents and fleets after creation. The fields arrive parsed into
//! the same types creation takes; the store applies an edit in one owner-scoped
//! statement. A changed policy or gateway URL reaches the agent with its next heartbeat
//! or handshake answer, which read the agent row afresh once the cache entry is dropped.

use super::*;
use crate::store::{AgentUpdate, UpdateOutcome};

/// An edit of an agent: `None` keeps a field, `Some(None)` clears an optional one.
#[derive(Default)]
pub struct AgentEdit {
    pub name: Option<Name>,
    pub fleet_id: Option<Option<String>>,
    pub policy_profile: Option<PolicyProfile>,
    pub gateway_url: Option<Option<GatewayUrl>>,
}

impl AgentEdit {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.fleet_id.is_none()
            && self.policy_profile.is_none()
            && self.gateway_url.is_none()
    }

    /// The names of the fields this edit sets (for the activity log: never a value).
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("fleet_id", self.fleet_id.is_some()),
            ("policy_profile", self.policy_profile.is_some()),
            ("gateway_url", self.gateway_url.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect()
    }
}

impl Owner {
    /// Applies an edit. Another owner's agent, and a fleet that is not the owner's,
    /// answer 404.
    pub async fn update_agent(&self, id: &str, edit: &AgentEdit) -> ApiResult<AgentView> {
        let id = parse_agent_id(id)?.to_string();
        if edit.is_empty() {
            return Err(ApiError::invalid(
                "give at least one of name, fleet_id, policy_profile, gateway_url",
            ));
        }
        let fleet_id = match &edit.fleet_id {
            Some(Some(fid)) => Some(Some(parse_fleet_id(fid)?)),
            Some(None) => Some(None),
            None => None,
        };
        let update = AgentUpdate {
            name: edit.name.as_ref().map(|n| n.as_str().to_owned()),
            fleet_id,
            policy: edit
                .policy_profile
                .as_ref()
                .map(|p| (p.name().to_owned(), p.heartbeat_interval() as i64)),
            gateway_url: edit
                .gateway_url
                .as_ref()
                .map(|u| u.as_ref().map(|u| u.as_str().to_owned())),
        };
        match self
            .state
            .0
            .store
            .update_agent(self.id(), &id, &update, &{
                let mut e = self.agent_entry(Action::AgentEdited, &id);
                e.detail = Some(serde_json::json!({ "fields": edit.fields() }).to_string());
                e
            })
            .await?
        {
            UpdateOutcome::Updated => {}
            UpdateOutcome::NotFound | UpdateOutcome::FleetNotFound => {
                return Err(ApiError::NotFound)
            }
        }
        self.state.agent_touched(&id);
        self.state.notify_change(self.id(), &id, false);
        self.agent_view(&id).await
    }

    /// Renames a fleet; 409 when the owner has another fleet of that name.
    pub async fn rename_fleet(&self, id: &str, name: &Name) -> ApiResult<FleetView> {
        let id = parse_fleet_id(id)?;
        let renamed = self
            .state
            .0
            .store
            .rename_fleet(self.id(), &id, name.as_str())
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict => {
                    ApiError::Conflict(format!("a fleet named {:?} already exists", name.as_str()))
                }
                other => other.into(),
            })?;
        if !renamed {
            return Err(ApiError::NotFound);
        }
        let fleet = self.fleet(&id).await?;
        self.state.notify_fleet(self.id(), &fleet.id, false);
        Ok(fleet)
    }
}
