//! The activity log's vocabulary and its queue for repeatable events.
//!
//! Every action the log knows is an [`Action`]; an entry names the action, its object and
//! who did it from where, and at most a few non-secret facts (field names, a version
//! number), never a value. Control-plane changes write their entry in their own
//! transaction (see `crate::store::activity`). Events anyone can repeat from outside — a
//! wrong password for an existing account, an agent secret sent in plaintext — go through
//! [`Recorder`]: a bounded queue drained by one task, so the answer never waits for the
//! write (a failed sign-in for an existing account must take as long as one for an unknown
//! account), writes are serialized, and repeats are folded into one row's `count` by
//! [`COALESCE`].

use tokio::sync::mpsc;

use crate::store::{Activity, Coalesce, SharedStore};
use crate::telemetry::names;

/// Everything the activity log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    SessionEnded,
    PasswordChanged,
    PasswordReset,
    MasterKeySet,
    MasterKeyChanged,
    AgentCreated,
    AgentEdited,
    AgentDeleted,
    SecretRotated,
    ConfigSaved,
    PlaintextSecretSeen,
    AlertRuleCreated,
    AlertRuleEdited,
    AlertRuleDeleted,
    /// An enrollment token was issued (the agent switched to, or re-enrolls with, Ed25519).
    EnrollmentTokenIssued,
    /// An agent enrolled its Ed25519 public key.
    AgentEnrolled,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SignOut => "sign_out",
            Action::SessionEnded => "session_ended",
            Action::PasswordChanged => "password_changed",
            Action::PasswordReset => "password_reset",
            Action::MasterKeySet => "master_key_set",
            Action::MasterKeyChanged => "master_key_changed",
            Action::AgentCreated => "agent_created",
            Action::AgentEdited => "agent_edited",
            Action::AgentDeleted => "agent_deleted",
            Action::SecretRotated => "secret_rotated",
            Action::ConfigSaved => "config_saved",
            Action::PlaintextSecretSeen => "plaintext_secret_seen",
            Action::AlertRuleCreated => "alert_rule_created",
            Action::AlertRuleEdited => "alert_rule_edited",
            Action::AlertRuleDeleted => "alert_rule_deleted",
            Action::EnrollmentTokenIssued => "enrollment_token_issued",
            Action::AgentEnrolled => "agent_enrolled",
        }
    }

    /// The kind of object the action is about.
    pub fn object_kind(self) -> Option<&'static str> {
        match self {
            Action::SignIn | Action::SignOut | Action::SessionEnded => Some("session"),
            Action::AgentCreated
            | Action::AgentEdited
            | Action::AgentDeleted
            | Action::SecretRotated
            | Action::ConfigSaved
            | Action::PlaintextSecretSeen
            | Action::EnrollmentTokenIssued
            | Action::AgentEnrolled => Some("agent"),
            Action::SignInFailed
            | Action::PasswordChanged
            | Action::PasswordReset
            | Action::MasterKeySet
            | Action::MasterKeyChanged => Some("account"),
            Action::AlertRuleCreated | Action::AlertRuleEdited | Action::AlertRuleDeleted => {
                Some("alert_rule")
            }
        }
    }
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An owner session (its public id goes with it).
    Session,
    /// The server operator's command line.
    Operator,
    /// An agent (its id goes with it).
    Agent,
    /// Someone who is not signed in.
    Anonymous,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Session => "session",
            Actor::Operator => "operator",
            Actor::Agent => "agent",
            Actor::Anonymous => "anonymous",
        }
    }
}

/// A new entry, for the owner `owner_id` at `ts`.
pub fn entry(owner_id: &str, ts: i64, action: Action, actor: Actor) -> Activity {
    Activity {
        owner_id: owner_id.into(),
        ts,
        action: action.as_str(),
        object_kind: action.object_kind(),
        object_id: None,
        object_name: None,
        detail: None,
        actor_kind: actor.as_str(),
        actor_id: None,
        client_addr: None,
    }
}

/// How repeated failed sign-ins and plaintext-secret sightings are folded: one row per
/// (account, object, address) while repeats come within an hour, a row spans at most a
/// day, and at most 10 addresses per day get rows of their own (the rest share one row
/// without an address). A brute force from any number of addresses adds at most 11 rows
/// per account and day.
pub const COALESCE: Coalesce = Coalesce {
    window: 3600,
    span: 86_400,
    addresses: 10,
};

/// Entries waiting for the recorder beyond this are dropped (with a warning).
const QUEUE: usize = 4096;

/// The queue of coalesced entries and the task that writes them.
pub(super) struct Recorder {
    tx: mpsc::Sender<Activity>,
}

impl Recorder {
    pub fn spawn(store: SharedStore) -> Self {
        let (tx, mut rx) = mpsc::channel::<Activity>(QUEUE);
        tokio::spawn(async move {
            while let Some(a) = rx.recv().await {
                if let Err(e) = store.record_coalesced(&a, COALESCE).await {
                    tracing::warn!(action = a.action, error = %e, "activity entry not recorded");
                }
            }
        });
        Self { tx }
    }

    /// Queues an entry without waiting.
    pub fn record(&self, a: Activity) {
        if let Err(e) = self.tx.try_send(a) {
            metrics::counter!(names::ACTIVITY_DROPPED).increment(1);
            tracing::warn!(
                action = e.into_inner().action,
                "activity queue full; a repeated event was not recorded"
            );
        }
    }
}
