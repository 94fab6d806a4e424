//! base64url without padding (RFC 4648 §5), the only binary-to-text encoding
//! on the wire. Decoding is strict (SPEC §0): padding, characters outside the
//! alphabet, impossible lengths and non-zero trailing bits are all refused,
//! so every byte string has exactly one accepted text form.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::{DecodeError, Engine};
use zeroize::Zeroizing;

use crate::error::{ProtocolError, Result};

pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the encoding of `bytes` to `out` without reallocating when `out`
/// has room, so secret text can be built inside a zeroizing buffer.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

pub fn decode(s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).map_err(|e| match e {
        DecodeError::InvalidByte(_, b'=') | DecodeError::InvalidPadding => {
            ProtocolError::Base64("padding is not allowed")
        }
        DecodeError::InvalidByte(..) => ProtocolError::Base64("character outside the alphabet"),
        DecodeError::InvalidLength(_) => ProtocolError::Base64("impossible length"),
        DecodeError::InvalidLastSymbol(..) => ProtocolError::Base64("non-canonical trailing bits"),
    })
}

/// Decodes exactly `N` bytes. The intermediate buffer is zeroized, so this is
/// safe to use for key material.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N]> {
    let bytes = Zeroizing::new(decode(s)?);
    let mut out = [0u8; N];
    if bytes.len() != N {
        return Err(ProtocolError::Base64("wrong decoded length"));
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}
