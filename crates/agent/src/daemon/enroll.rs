//! Enrollment of an Ed25519 agent (spec/SPEC-identity.md), once per token,
//! before its first handshake, and the body of either kind of handshake.
//!
//! The server answers every refused enrollment with the same 401 (a wrong,
//! spent or expired token, an unknown agent). When the token turns out spent,
//! a handshake tells whether it was spent by this very key (an enrollment
//! whose answer was lost): then it counts as done, and is recorded like one.

use std::sync::atomic::Ordering;

use openclaw_fleet_protocol::{
    enroll_body, handshake_body, handshake_body_ed25519, HandshakeResponse,
};
use serde_json::Value;

use super::Agent;
use crate::client::ClientError;
use crate::identity;
use crate::settings::Credential;

impl Agent {
    /// The handshake body for `ts`, signed with the agent's secret or key.
    pub(super) fn handshake_body(&self, ts: u64) -> Value {
        let id = &self.settings.agent_id;
        match (&self.identity_key, &self.settings.credential) {
            (Some(key), _) => handshake_body_ed25519(id, ts, key),
            (None, Credential::Hmac(secret)) => handshake_body(id, ts, secret),
            (None, Credential::Ed25519 { .. }) => {
                unreachable!("Agent::new loads the key of every Ed25519 agent")
            }
        }
    }

    /// Enrolls with the configured token unless that is done (by the record
    /// in the state directory); `Some` when the recovery handshake after a
    /// refused token already succeeded.
    pub(super) async fn enroll_if_pending(&self) -> Result<Option<HandshakeResponse>, ClientError> {
        if !self.enrollment_pending.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let (
            Some(key),
            Credential::Ed25519 {
                enrollment_token: Some(token),
                ..
            },
        ) = (&self.identity_key, &self.settings.credential)
        else {
            return Ok(None);
        };
        let id = &self.settings.agent_id;
        let sent = self
            .signed(|ts| async move {
                let body = enroll_body(id, token, key, ts);
                self.client.enroll(&body).await
            })
            .await;
        let recovered = match sent {
            Ok(()) => {
                tracing::info!(
                    agent_id = %id,
                    public_key = %key.public_key(),
                    "enrolled this host's Ed25519 public key"
                );
                None
            }
            Err(e) if e.is_unauthorized() => match self.handshake_only().await {
                Ok(resp) => {
                    tracing::info!("the enrollment token was already spent, by this key");
                    Some(resp)
                }
                Err(again) if again.is_unauthorized() => {
                    return Err(ClientError::EnrollmentRefused)
                }
                Err(again) => return Err(again),
            },
            Err(e) => return Err(e),
        };
        self.enrollment_pending.store(false, Ordering::Relaxed);
        let public_key = key.public_key().to_string();
        if let Err(e) =
            identity::record_enrollment(&self.settings.state_dir, id, &public_key, token)
        {
            tracing::warn!(
                error = %e,
                "enrollment not recorded; the next start presents the spent token once more"
            );
        }
        Ok(recovered)
    }
}
