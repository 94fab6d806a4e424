//! The owner's agents: records, secrets and configs.

use super::*;

impl Owner {
    pub(super) async fn row(&self, id: &str) -> ApiResult<crate::store::AgentRow> {
        let id = &parse_agent_id(id)?.to_string();
        let (store, owner) = (&self.state.0.store, self.id());
        let row = (self.state.0.latest)
            .read_merged(
                move || async move { store.get_agent(owner, id).await },
                Option::as_mut_slice,
            )
            .await?;
        row.ok_or(ApiError::NotFound)
    }

    pub async fn agent_view(&self, id: &str) -> ApiResult<AgentView> {
        Ok(AgentView::from_row(&self.row(id).await?, self.state.now()))
    }

    /// The views of those of `ids` that are the owner's agents, in one read (any order;
    /// an id that is not one of them is left out).
    pub async fn agent_views(&self, ids: &[String]) -> ApiResult<Vec<AgentView>> {
        let ids: Vec<String> = ids
            .iter()
            .filter_map(|id| parse_agent_id(id).ok().map(|id| id.to_string()))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (store, owner, ids) = (&self.state.0.store, self.id(), &ids);
        let rows = (self.state.0.latest)
            .read_merged(
                move || async move { store.get_agents(owner, ids).await },
                Vec::as_mut_slice,
            )
            .await?;
        let now = self.state.now();
        Ok(rows.iter().map(|r| AgentView::from_row(r, now)).collect())
    }

    pub async fn agent(&self, id: &str) -> ApiResult<AgentDetail> {
        let row = self.row(id).await?;
        let config = match &row.config_sealed {
            Some(sealed) => {
                let bytes = self
                    .state
                    .open("agents", "config_sealed", &row.id, sealed)?;
                Some(serde_json::from_slice(&bytes).map_err(ApiError::internal)?)
            }
            None => None,
        };
        let wrapped_secret = row
            .wrapped_secret
            .as_deref()
            .and_then(|w| serde_json::from_str(w).ok());
        Ok(AgentDetail {
            agent: AgentView::from_row(&row, self.state.now()),
            config,
            wrapped_secret,
        })
    }

    /// Creates an agent. `fleet_id` must name one of the owner's fleets. With
    /// `ed25519`, the agent gets no secret but an enrollment token (SPEC-identity).
    pub async fn create_agent(
        &self,
        name: &Name,
        fleet_id: Option<&str>,
        profile: Option<&PolicyProfile>,
        gateway_url: Option<&GatewayUrl>,
        ed25519: bool,
    ) -> ApiResult<CreatedAgent> {
        let fleet_id = match fleet_id {
            Some(fid) => Some(
                self.own_fleet(fid)
                    .await
                    .map_err(|_| ApiError::invalid("fleet_id: no such fleet"))?,
            ),
            None => None,
        };
        let default = PolicyProfile::parse(DEFAULT_POLICY).map_err(ApiError::internal)?;
        let profile = profile.unwrap_or(&default);
        let id = AgentId::new_v4().to_string();
        let now = self.state.now();
        let (secret, enrollment) = if ed25519 {
            (None, Some(self.new_enrollment()))
        } else {
            (Some(AgentSecret::generate()), None)
        };
        let new = NewAgent {
            identity: if ed25519 {
                IDENTITY_ED25519
            } else {
                IDENTITY_HMAC
            },
            secret_sealed: secret.as_ref().map(|secret| {
                self.state.seal(
                    "agents",
                    "secret_sealed",
                    &id,
                    secret.expose_secret().as_bytes(),
                )
            }),
            enrollment: enrollment.as_ref().map(|(_, e)| e.clone()),
            id: id.clone(),
            owner_id: self.id().into(),
            fleet_id,
            name: name.as_str().into(),
            policy_profile: profile.name().into(),
            gateway_url: gateway_url.map(|u| u.as_str().into()),
            heartbeat_interval: profile.heartbeat_interval() as i64,
            created_at: now,
        };
        let mut entry = self.agent_entry(Action::AgentCreated, &id);
        entry.object_name = Some(new.name.clone());
        self.state.0.store.create_agent(&new, &entry).await?;
        self.state.notify_change(self.id(), &id, false);
        let agent = self.agent_view(&id).await?;
        Ok(CreatedAgent {
            agent,
            agent_secret: secret.map(|s| s.expose_secret().to_string()),
            enrollment_token: enrollment
                .as_ref()
                .map(|(token, _)| token.expose_secret().to_string()),
            enrollment_token_expires_at: enrollment.map(|(_, e)| e.expires_at),
        })
    }

    pub async fn delete_agent(&self, id: &str) -> ApiResult<()> {
        let id = parse_agent_id(id)?.to_string();
        let entry = self.agent_entry(Action::AgentDeleted, &id);
        if !self
            .state
            .0
            .store
            .delete_agent(self.id(), &id, &entry)
            .await?
        {
            return Err(ApiError::NotFound);
        }
        self.state.0.latest.forget(&id);
        self.state.agent_touched(&id);
        self.state.notify_change(self.id(), &id, true);
        Ok(())
    }

    pub async fn set_wrapped_secret(
        &self,
        id: &str,
        wrapped: &Value,
        password: Option<&str>,
        made_under: Option<&Value>,
    ) -> ApiResult<AgentDetail> {
        let row = self.row(id).await?;
        let wrapped = Sealed::parse(wrapped)
            .map_err(|e| ApiError::invalid(format!("wrapped_secret: {e}")))?;
        if self.user.kdf.is_none() {
            return Err(ApiError::Conflict("set up the master key first".into()));
        }
        let first = row.wrapped_secret.is_none();
        if !first {
            self.require_password(password).await?;
        }
        let text = wrapped.to_json().to_string();
        // The key the client wrapped under (when it says), else the one current when this
        // request began: the store refuses the wrap if the master key is another by then.
        let claimed = match made_under {
            Some(v) => Some(
                Sealed::parse(v)
                    .map_err(|e| ApiError::invalid(format!("key_check: {e}")))?
                    .to_json()
                    .to_string(),
            ),
            None => None,
        };
        let key_check = claimed
            .as_deref()
            .or(self.user.key_check.as_deref())
            .unwrap_or_default();
        match self
            .state
            .0
            .store
            .set_wrapped_secret(self.id(), &row.id, &text, first, key_check)
            .await?
        {
            WrapOutcome::Stored => self.agent(&row.id).await,
            WrapOutcome::KeyChanged => Err(ApiError::Conflict(
                "the master key changed meanwhile; unlock with the new key and try again".into(),
            )),
            WrapOutcome::NotStored => {
                // Deleted meanwhile (404), or wrapped meanwhile: now a replacement.
                self.row(&row.id).await?;
                Err(ApiError::PasswordRequired)
            }
        }
    }

    /// Stores the browser's envelope as version + 1, sealed under the at-rest layer, and
    /// keeps it in the agent's history. `restored_from` names the older version the
    /// browser re-sealed (for the activity log; the server cannot read either).
    pub async fn save_config(
        &self,
        id: &str,
        envelope: &Value,
        restored_from: Option<i64>,
    ) -> ApiResult<i64> {
        let row = self.row(id).await?;
        let env = Envelope::parse(envelope).map_err(|e| {
            ApiError::ConfigNotEncrypted(format!("config is not an encrypted envelope: {e}"))
        })?;
        if env.agent_id.to_string() != row.id {
            return Err(ApiError::AgentMismatch);
        }
        let canonical = env.to_json().to_string();
        if canonical.len() > MAX_CONFIG_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        let version = env.version as i64;
        if restored_from.is_some_and(|from| !(1..version).contains(&from)) {
            return Err(ApiError::invalid(
                "restored_from must be an earlier version than the one saved",
            ));
        }
        if version != row.config_version + 1 {
            return Err(ApiError::VersionConflict {
                stored_version: row.config_version,
            });
        }
        let sealed = self
            .state
            .seal("agents", "config_sealed", &row.id, canonical.as_bytes());
        let history = HistoryEntry {
            sealed: self.state.seal(
                "config_history",
                "envelope_sealed",
                &history_row(&row.id, version),
                canonical.as_bytes(),
            ),
            saved_by: self.session_id(),
            saved_at: self.state.now(),
        };
        let mut entry = self.agent_entry(Action::ConfigSaved, &row.id);
        entry.detail = Some(
            match restored_from {
                Some(from) => serde_json::json!({ "version": version, "restored_from": from }),
                None => serde_json::json!({ "version": version }),
            }
            .to_string(),
        );
        match self
            .state
            .0
            .store
            .save_config(self.id(), &row.id, version - 1, &sealed, &history, &entry)
            .await?
        {
            SaveOutcome::Saved => {
                self.state.agent_touched(&row.id);
                self.state.notify_change(self.id(), &row.id, false);
                Ok(version)
            }
            SaveOutcome::NotFound => Err(ApiError::NotFound),
            SaveOutcome::Conflict { stored_version } => {
                Err(ApiError::VersionConflict { stored_version })
            }
        }
    }

    /// A new AGENT_SECRET for an HMAC agent. An Ed25519 agent has none: 409, pointing
    /// at `enrollment-token`.
    pub async fn rotate_secret(&self, id: &str) -> ApiResult<RotatedSecret> {
        let row = self.row(id).await?;
        if row.identity != IDENTITY_HMAC {
            return Err(ed25519_has_no_secret());
        }
        let secret = AgentSecret::generate();
        let sealed = self.state.seal(
            "agents",
            "secret_sealed",
            &row.id,
            secret.expose_secret().as_bytes(),
        );
        if !self
            .state
            .0
            .store
            .rotate_secret(
                self.id(),
                &row.id,
                &sealed,
                &self.agent_entry(Action::SecretRotated, &row.id),
            )
            .await?
        {
            // Deleted meanwhile (404), or switched to Ed25519 meanwhile (409).
            self.row(&row.id).await?;
            return Err(ed25519_has_no_secret());
        }
        self.state.agent_touched(&row.id);
        self.state.notify_change(self.id(), &row.id, false);
        Ok(RotatedSecret {
            agent_secret: secret.expose_secret().to_string(),
        })
    }
}

fn ed25519_has_no_secret() -> ApiError {
    ApiError::Conflict(
        "this agent has an Ed25519 identity and no secret to rotate: issue a new \
         enrollment token with POST /api/agents/{id}/enrollment-token"
            .into(),
    )
}
