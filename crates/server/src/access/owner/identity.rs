//! The owner's side of Ed25519 identities (spec/SPEC-identity.md): issuing an
//! enrollment token, which switches the agent to Ed25519 (or re-issues one for an
//! agent already on it). The cut-off is immediate: the HMAC secret, the enrolled public
//! key and every agent token are gone when the token is issued, not when it is used
//! (docs/security.md, "Readings of the SPEC").

use openclaw_fleet_protocol::EnrollmentToken;

use super::*;
use crate::store::NewEnrollment;

impl Owner {
    /// A fresh enrollment token for the owner's agent, valid for
    /// `enrollment_token_ttl_secs`; shown this once. 404 for another owner's agent.
    pub async fn issue_enrollment_token(&self, id: &str) -> ApiResult<IssuedEnrollment> {
        let id = parse_agent_id(id)?.to_string();
        let (token, enrollment) = self.new_enrollment();
        let entry = self.agent_entry(Action::EnrollmentTokenIssued, &id);
        if !self
            .state
            .0
            .store
            .issue_enrollment(self.id(), &id, &enrollment, &entry)
            .await?
        {
            return Err(ApiError::NotFound);
        }
        self.state.agent_touched(&id);
        self.state.notify_change(self.id(), &id, false);
        Ok(IssuedEnrollment {
            agent: self.agent_view(&id).await?,
            enrollment_token: token.expose_secret().to_string(),
            expires_at: enrollment.expires_at,
        })
    }

    /// A new token and the row that stores its hash.
    pub(super) fn new_enrollment(&self) -> (EnrollmentToken, NewEnrollment) {
        let token = EnrollmentToken::generate();
        let now = self.state.now();
        let enrollment = NewEnrollment {
            token_hash: token.hash(),
            created_at: now,
            expires_at: now + self.state.settings().enrollment_token_ttl_secs,
        };
        (token, enrollment)
    }
}
