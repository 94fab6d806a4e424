//! Reading the shared vector files (spec/test-vectors, or `OPENCLAW_FLEET_VECTORS`),
//! for every vector test of this crate.

use std::path::PathBuf;

use serde_json::Value;

/// The vector file `name`, parsed.
pub fn vectors(name: &str) -> Value {
    let dir = std::env::var_os("OPENCLAW_FLEET_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../spec/test-vectors"
            ))
        });
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector file is JSON")
}

/// The non-empty list `kind` (`valid`, `invalid`, …) of a vector file.
pub fn cases<'a>(file: &'a Value, kind: &str) -> &'a [Value] {
    let list = file[kind].as_array().expect("vector list");
    assert!(!list.is_empty(), "no {kind} vectors");
    list
}

/// A string field of a vector.
pub fn s<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {key}"))
}
