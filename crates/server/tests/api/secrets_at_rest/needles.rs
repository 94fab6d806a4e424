//! What is searched for, and how: every encoding of a secret as a byte string, found
//! in binary files and text alike.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

/// A byte string to look for, and what it stands for.
pub struct Needle {
    pub what: String,
    pub bytes: Vec<u8>,
}

/// Every encoding of `secret` a careless implementation might write: the text and the
/// bytes its `ocf_…_` payload decodes to, raw, hex and base64 (both alphabets).
pub fn forms(what: &str, secret: &str) -> Vec<Needle> {
    let mut out = Vec::new();
    let mut add = |form: &str, bytes: Vec<u8>| {
        out.push(Needle {
            what: format!("{what} ({form})"),
            bytes,
        })
    };
    let mut encodings = |label: &str, raw: &[u8]| {
        add(&format!("{label} raw"), raw.to_vec());
        add(&format!("{label} hex"), hex::encode(raw).into_bytes());
        add(&format!("{label} HEX"), hex::encode_upper(raw).into_bytes());
        for (name, engine) in [
            ("base64", &STANDARD),
            ("base64 unpadded", &STANDARD_NO_PAD),
            ("base64url", &URL_SAFE),
            ("base64url unpadded", &URL_SAFE_NO_PAD),
        ] {
            add(&format!("{label} {name}"), engine.encode(raw).into_bytes());
        }
    };
    encodings("text", secret.as_bytes());
    let payload = secret.get(7..).filter(|_| secret.starts_with("ocf_"));
    if let Some(bytes) = payload.and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()) {
        encodings("payload bytes", &bytes);
    }
    out
}

/// Bytes as a string of the same length in chars, so `str::contains` (fast, in the
/// optimised standard library) can search binary data.
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

pub fn found<'a>(haystack: &[u8], needles: &'a [Needle]) -> Vec<&'a str> {
    let hay = latin1(haystack);
    needles
        .iter()
        .filter(|n| hay.contains(&latin1(&n.bytes)))
        .map(|n| n.what.as_str())
        .collect()
}

pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}
