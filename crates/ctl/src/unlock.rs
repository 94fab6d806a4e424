//! Unlocking the owner's master key (SPEC §5) on this machine: the KDF
//! parameters come from the server and are refused outside the policy before
//! any derivation (a hostile server could hand out 1 iteration to make the
//! passphrase cheap to guess from the key check, or 10^12 to hang the CLI);
//! the derived wrap key must open the account's `key_check`. Only the wrap key
//! is kept, in memory, for the length of one command.

use openclaw_fleet_protocol::{
    AgentId, EncryptionSecret, Kdf, MasterKey, ProtocolError, Sealed, UserId, WrapKey,
};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::api::MasterKeyInfo;
use crate::error::{CtlError, Result};

/// The unlocked master key of one account.
pub struct Unlocked {
    user: UserId,
    wrap: WrapKey,
    key_check: Value,
}

fn refused_kdf(e: ProtocolError) -> CtlError {
    CtlError::Refused(format!(
        "the server handed out master-key parameters this CLI refuses ({e}); \
         no key was derived. A server should never do this: treat it as compromised"
    ))
}

impl Unlocked {
    /// Derives the wrap key from `passphrase` with the server's parameters
    /// (on a blocking thread: PBKDF2 takes a while by design) and checks it.
    pub async fn unlock(
        info: MasterKeyInfo,
        user: UserId,
        passphrase: Zeroizing<String>,
    ) -> Result<Self> {
        let (Some(kdf), Some(key_check)) = (info.kdf, info.key_check) else {
            return Err(CtlError::Conflict(
                "this account has no master key yet: set it up in the dashboard first".into(),
            ));
        };
        let kdf = Kdf::parse(&kdf).map_err(refused_kdf)?;
        kdf.check_policy().map_err(refused_kdf)?;
        let check = Sealed::parse(&key_check).map_err(|e| {
            CtlError::Refused(format!("the account's key_check is malformed ({e})"))
        })?;
        let wrap = tokio::task::spawn_blocking(move || {
            MasterKey::derive(&passphrase, &kdf).map(|mk| WrapKey::from_master(&mk))
        })
        .await
        .map_err(|_| CtlError::Refused("key derivation did not finish".into()))?
        .map_err(refused_kdf)?;
        wrap.verify_key_check(&user, &check)
            .map_err(|_| CtlError::Auth("wrong master key".into()))?;
        Ok(Self {
            user,
            wrap,
            key_check,
        })
    }

    /// The agent's ENCRYPTION_SECRET from its `wrapped_secret`.
    pub fn unwrap_secret(&self, agent: &AgentId, wrapped: &Value) -> Result<EncryptionSecret> {
        let sealed = Sealed::parse(wrapped).map_err(|e| {
            CtlError::Refused(format!(
                "the wrapped secret of agent {agent} is malformed ({e})"
            ))
        })?;
        self.wrap
            .unwrap_secret(&self.user, agent, &sealed)
            .map_err(|_| {
                CtlError::Refused(format!(
                    "the encryption secret of agent {agent} does not open with this master key: \
                 it was wrapped under another key, or altered"
                ))
            })
    }

    /// Wraps a new secret for `agent`; also returns the key check it was
    /// made under, so the server refuses it once that key is replaced.
    pub fn wrap_secret(&self, agent: &AgentId, secret: &EncryptionSecret) -> (Value, &Value) {
        (
            self.wrap.wrap_secret(&self.user, agent, secret).to_json(),
            &self.key_check,
        )
    }
}
