//! The two primitives every construction in SPEC §4–5 is built from:
//! HKDF-SHA256 to 32 bytes, and AES-256-GCM with the tag appended (the
//! WebCrypto layout). Keys and plaintext stay in zeroizing buffers.

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{ProtocolError, Result};

pub(crate) const TAG_LEN: usize = 16;

pub(crate) fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    okm
}

pub(crate) fn random_iv() -> [u8; 12] {
    let mut iv = [0u8; 12];
    OsRng.fill_bytes(&mut iv);
    iv
}

pub(crate) fn seal(key: &[u8; 32], iv: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
        .encrypt(
            Nonce::from_slice(iv),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption only fails beyond 64 GiB of plaintext")
}

/// Decrypts in place inside a zeroizing buffer, so that nothing of an
/// unauthenticated decryption survives a tag mismatch.
pub(crate) fn open(
    key: &[u8; 32],
    iv: &[u8; 12],
    aad: &[u8],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if ct.len() < TAG_LEN {
        return Err(ProtocolError::CiphertextTooShort);
    }
    let mut buf = Zeroizing::new(ct.to_vec());
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
        .decrypt_in_place(Nonce::from_slice(iv), aad, &mut *buf)
        .map_err(|_| ProtocolError::Decryption)?;
    Ok(buf)
}
