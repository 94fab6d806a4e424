//! The owner's master key (SPEC §5): PBKDF2 over the NFC passphrase, a wrap
//! key derived from it, the `key_check` that tells a wrong passphrase at
//! once, and the wrapping of each agent's `ENCRYPTION_SECRET`. The KDF
//! policy is enforced here so no client derives a key from weak parameters
//! a hostile server handed it.

use serde_json::{json, Value};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::b64u;
use crate::crypto;
use crate::envelope::{check_header, parse_iv_ct, ALG};
use crate::error::{ProtocolError, Result};
use crate::ids::{AgentId, UserId};
use crate::secrets::EncryptionSecret;

pub const MIN_ITERATIONS: u32 = 600_000;
pub const MAX_ITERATIONS: u32 = 10_000_000;
pub const MIN_PASSPHRASE_CHARS: usize = 12;
pub const KDF_ALG: &str = "PBKDF2-SHA256";
pub const KEY_CHECK_PLAINTEXT: &[u8] = b"openclaw-fleet key check v1";
const MASTER_SALT: &[u8] = b"openclaw-fleet/master/v1";
const KDF_KEYS: [&str; 3] = ["alg", "iterations", "salt"];
const SEALED_KEYS: [&str; 4] = ["v", "alg", "iv", "ct"];

/// Public PBKDF2 parameters, stored by the server per user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kdf {
    pub iterations: u32,
    pub salt: [u8; 16],
}

impl Kdf {
    /// The minimum iteration count with a fresh random salt.
    pub fn generate() -> Self {
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        Self {
            iterations: MIN_ITERATIONS,
            salt,
        }
    }

    /// Structural parse only; call `check_policy` (or `MasterKey::derive`)
    /// before trusting the iteration count. Counts beyond `u32` are reported
    /// as `WeakKdf { iterations: u32::MAX }`.
    pub fn parse(value: &Value) -> Result<Self> {
        let obj = value
            .as_object()
            .ok_or(ProtocolError::InvalidKdf("not a JSON object"))?;
        if obj.get("alg").and_then(Value::as_str) != Some(KDF_ALG) {
            return Err(ProtocolError::InvalidKdf("`alg` must be PBKDF2-SHA256"));
        }
        if obj.len() != KDF_KEYS.len() || !KDF_KEYS.iter().all(|k| obj.contains_key(*k)) {
            return Err(ProtocolError::InvalidKdf(
                "expected exactly alg, iterations, salt",
            ));
        }
        let iterations =
            obj.get("iterations")
                .and_then(Value::as_u64)
                .ok_or(ProtocolError::InvalidKdf(
                    "`iterations` must be a positive integer",
                ))?;
        let iterations = u32::try_from(iterations).map_err(|_| ProtocolError::WeakKdf {
            iterations: u32::MAX,
        })?;
        let salt = obj
            .get("salt")
            .and_then(Value::as_str)
            .ok_or(ProtocolError::InvalidKdf("`salt` must be a string"))?;
        let salt: [u8; 16] = b64u::decode(salt)?
            .try_into()
            .map_err(|_| ProtocolError::InvalidKdf("`salt` must be 16 bytes"))?;
        Ok(Self { iterations, salt })
    }

    pub fn to_json(&self) -> Value {
        json!({ "alg": KDF_ALG, "iterations": self.iterations, "salt": b64u::encode(&self.salt) })
    }

    pub fn check_policy(&self) -> Result<()> {
        if (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&self.iterations) {
            Ok(())
        } else {
            Err(ProtocolError::WeakKdf {
                iterations: self.iterations,
            })
        }
    }
}

/// SPEC §1: a new master passphrase has at least 12 characters (after NFC).
pub fn check_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.nfc().count() < MIN_PASSPHRASE_CHARS {
        return Err(ProtocolError::WeakPassphrase);
    }
    Ok(())
}

/// `MK = PBKDF2-SHA256(utf8(NFC(passphrase)), salt, iterations, 32)`.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// Refuses parameters outside the policy, then derives.
    pub fn derive(passphrase: &str, kdf: &Kdf) -> Result<Self> {
        kdf.check_policy()?;
        Ok(Self::derive_ignoring_policy(passphrase, kdf))
    }

    /// Derives without the iteration policy. Exists only to reproduce the
    /// 1000-iteration test vector; never call it with parameters from a server.
    pub fn derive_ignoring_policy(passphrase: &str, kdf: &Kdf) -> Self {
        let normalized: Zeroizing<String> = Zeroizing::new(passphrase.nfc().collect());
        let mut key = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(
            normalized.as_bytes(),
            &kdf.salt,
            kdf.iterations,
            key.as_mut(),
        );
        Self(key)
    }

    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// `WK = HKDF(salt = "openclaw-fleet/master/v1", ikm = MK, info = "wrap")`.
pub struct WrapKey(Zeroizing<[u8; 32]>);

/// A `key_check` or `wrapped_secret`: `{"v":1,"alg":"A256GCM","iv","ct"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub iv: [u8; 12],
    pub ct: Vec<u8>,
}

impl Sealed {
    pub fn parse(value: &Value) -> Result<Self> {
        let obj = check_header(value, &SEALED_KEYS, "sealed")?;
        let (iv, ct) = parse_iv_ct(obj, "sealed")?;
        Ok(Self { iv, ct })
    }

    pub fn to_json(&self) -> Value {
        json!({ "v": 1, "alg": ALG, "iv": b64u::encode(&self.iv), "ct": b64u::encode(&self.ct) })
    }
}

/// `"openclaw-fleet/keycheck/v1|" + user_id`.
pub fn key_check_aad(user: &UserId) -> String {
    format!("openclaw-fleet/keycheck/v1|{user}")
}

/// `"openclaw-fleet/wrap/v1|" + user_id + "|" + agent_id`: a wrapped secret
/// cannot be moved to another user or agent.
pub fn wrap_aad(user: &UserId, agent: &AgentId) -> String {
    format!("openclaw-fleet/wrap/v1|{user}|{agent}")
}

impl WrapKey {
    pub fn from_master(master: &MasterKey) -> Self {
        Self(crypto::hkdf32(MASTER_SALT, master.expose_bytes(), b"wrap"))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn make_key_check(&self, user: &UserId) -> Sealed {
        self.make_key_check_with_iv(user, crypto::random_iv())
    }

    /// Fixed IV: only for reproducing test vectors.
    pub fn make_key_check_with_iv(&self, user: &UserId, iv: [u8; 12]) -> Sealed {
        let ct = crypto::seal(
            &self.0,
            &iv,
            key_check_aad(user).as_bytes(),
            KEY_CHECK_PLAINTEXT,
        );
        Sealed { iv, ct }
    }

    /// `Decryption` means a wrong passphrase (or a key check of another user).
    pub fn verify_key_check(&self, user: &UserId, check: &Sealed) -> Result<()> {
        let pt = crypto::open(
            &self.0,
            &check.iv,
            key_check_aad(user).as_bytes(),
            &check.ct,
        )?;
        if pt.as_slice() != KEY_CHECK_PLAINTEXT {
            return Err(ProtocolError::Decryption);
        }
        Ok(())
    }

    pub fn wrap_secret(&self, user: &UserId, agent: &AgentId, secret: &EncryptionSecret) -> Sealed {
        self.wrap_secret_with_iv(user, agent, secret, crypto::random_iv())
    }

    /// Fixed IV: only for reproducing test vectors.
    pub fn wrap_secret_with_iv(
        &self,
        user: &UserId,
        agent: &AgentId,
        secret: &EncryptionSecret,
        iv: [u8; 12],
    ) -> Sealed {
        let aad = wrap_aad(user, agent);
        let ct = crypto::seal(&self.0, &iv, aad.as_bytes(), secret.expose_bytes());
        Sealed { iv, ct }
    }

    pub fn unwrap_secret(
        &self,
        user: &UserId,
        agent: &AgentId,
        sealed: &Sealed,
    ) -> Result<EncryptionSecret> {
        let aad = wrap_aad(user, agent);
        let pt = crypto::open(&self.0, &sealed.iv, aad.as_bytes(), &sealed.ct)?;
        let bytes: &[u8; 32] = pt
            .as_slice()
            .try_into()
            .map_err(|_| ProtocolError::SecretFormat("wrapped secret is not 32 bytes"))?;
        Ok(EncryptionSecret::from_bytes(*bytes))
    }
}
