//! SPEC §6 at-rest layer: AES-256-GCM under `INTERNAL_ENCRYPTION_KEY`.
//!
//! Sealed text is `ocf1.<key id>.<b64u iv>.<b64u ciphertext||tag>`. The AAD names the
//! table, column and row (and the key id), so a sealed value copied into another row
//! or column fails to open: a database writer cannot swap one agent's secret or config
//! for another's. The key id lets a rotated-out key keep opening old rows.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use openclaw_fleet_protocol::b64u;
use rand::RngCore;
use zeroize::Zeroizing;

use super::InternalKey;

const PREFIX: &str = "ocf1";

/// Where a sealed value lives; it is bound into the AAD.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value uses unknown key id {0}")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key, or moved between rows)")]
    Authentication,
}

/// Seals and opens values with the current key; opens with retired keys too.
pub struct AtRest {
    current: InternalKey,
    retired: Vec<InternalKey>,
}

impl AtRest {
    pub fn new(current: InternalKey, retired: Vec<InternalKey>) -> Self {
        Self { current, retired }
    }

    pub fn key_id(&self) -> &str {
        self.current.id()
    }

    fn aad(slot: Slot<'_>, kid: &str) -> String {
        format!(
            "openclaw-fleet/at-rest/v1|{}|{}|{}|{kid}",
            slot.table, slot.column, slot.row
        )
    }

    pub fn seal(&self, slot: Slot<'_>, plaintext: &[u8]) -> String {
        let cipher = Aes256Gcm::new(self.current.expose_bytes().into());
        let mut iv = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let aad = Self::aad(slot, self.current.id());
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        format!(
            "{PREFIX}.{}.{}.{}",
            self.current.id(),
            b64u::encode(&iv),
            b64u::encode(&ct)
        )
    }

    pub fn open(&self, slot: Slot<'_>, sealed: &str) -> Result<Zeroizing<Vec<u8>>, AtRestError> {
        let mut parts = sealed.split('.');
        let (Some(PREFIX), Some(kid), Some(iv), Some(ct), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(AtRestError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id() == kid)
            .ok_or_else(|| AtRestError::UnknownKey(kid.to_string()))?;
        let iv: [u8; 12] = b64u::decode_array(iv).map_err(|_| AtRestError::Malformed)?;
        let ct = b64u::decode(ct).map_err(|_| AtRestError::Malformed)?;
        let aad = Self::aad(slot, kid);
        Aes256Gcm::new(key.expose_bytes().into())
            .decrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &ct,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| AtRestError::Authentication)
    }

    /// The key id a sealed value names (`None` when it is not sealed text).
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.split('.');
        (parts.next() == Some(PREFIX))
            .then(|| parts.next())
            .flatten()
    }

    /// The ids of every key this can open with: the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .map(InternalKey::id)
    }

    /// Whether a value has the sealed shape (for the audit; does not decrypt).
    pub fn looks_sealed(value: &str) -> bool {
        let parts: Vec<&str> = value.split('.').collect();
        parts.len() == 4
            && parts[0] == PREFIX
            && parts[1].len() == 16
            && b64u::decode(parts[2])
                .map(|iv| iv.len() == 12)
                .unwrap_or(false)
            && b64u::decode(parts[3])
                .map(|ct| ct.len() >= 16)
                .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_rest() -> AtRest {
        AtRest::new(InternalKey::from_bytes([7u8; 32]), vec![])
    }

    const SLOT: Slot<'static> = Slot {
        table: "agents",
        column: "secret_sealed",
        row: "a",
    };

    #[test]
    fn round_trip_and_shape() {
        let r = at_rest();
        let sealed = r.seal(SLOT, b"hello");
        assert!(AtRest::looks_sealed(&sealed));
        assert!(!sealed.contains("hello"));
        assert_eq!(&r.open(SLOT, &sealed).unwrap()[..], b"hello");
    }

    #[test]
    fn moved_to_another_row_fails() {
        let r = at_rest();
        let sealed = r.seal(SLOT, b"hello");
        let other = Slot { row: "b", ..SLOT };
        assert!(matches!(
            r.open(other, &sealed),
            Err(AtRestError::Authentication)
        ));
        let other_col = Slot {
            column: "config_sealed",
            ..SLOT
        };
        assert!(matches!(
            r.open(other_col, &sealed),
            Err(AtRestError::Authentication)
        ));
    }

    #[test]
    fn retired_key_still_opens_and_unknown_key_is_named() {
        let old = at_rest();
        let sealed = old.seal(SLOT, b"x");
        let rotated = AtRest::new(
            InternalKey::from_bytes([9u8; 32]),
            vec![InternalKey::from_bytes([7u8; 32])],
        );
        assert_eq!(&rotated.open(SLOT, &sealed).unwrap()[..], b"x");
        let fresh = AtRest::new(InternalKey::from_bytes([9u8; 32]), vec![]);
        assert!(matches!(
            fresh.open(SLOT, &sealed),
            Err(AtRestError::UnknownKey(_))
        ));
        assert!(matches!(
            fresh.open(SLOT, "ocf1.x"),
            Err(AtRestError::Malformed)
        ));
    }
}
