//! Runs every case of `spec/test-vectors/apply.json` against
//! [`apply_envelope`]: the files and state before, a document sealed for the
//! vectors' agent, then the exact files and state after, or the refusal code
//! with every file left as it was. The same file runs in the Python
//! monitor's and the dashboard's suites.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use openclaw_fleet_protocol::{AgentId, ConfigDocument, EncryptionSecret, Envelope};
use serde_json::Value;

use super::{apply_envelope, Validator};
use crate::state::STATE_FILE;

fn vectors() -> Value {
    let dir = std::env::var_os("OPENCLAW_FLEET_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../spec/test-vectors"
            ))
        });
    let text = fs::read_to_string(dir.join("apply.json")).expect("apply.json is readable");
    serde_json::from_str(&text).expect("apply.json is JSON")
}

fn files_in(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

fn run_case(vectors: &Value, case: &Value) -> Result<(), String> {
    let agent: AgentId = serde_json::from_value(vectors["agent_id"].clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in case["files"].as_object().unwrap() {
        fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
    }
    if let Some(state) = case.get("state") {
        fs::write(dir.path().join(STATE_FILE), state.to_string()).unwrap();
    }
    let before = files_in(dir.path());
    let secret = EncryptionSecret::generate();
    let version = case["version"].as_u64().unwrap();
    let plaintext = serde_json::to_vec(&case["document"]).unwrap();
    let envelope = Envelope::seal(&secret, &agent, version, &plaintext)
        .unwrap()
        .to_json();
    let result = apply_envelope(dir.path(), &envelope, &agent, &secret, &Validator::None);
    let mut after = files_in(dir.path());
    match (case.get("error"), result) {
        (Some(code), Err(e)) => {
            if e.code() != code {
                return Err(format!("refused with {} instead of {code}", e.code()));
            }
            if after != before {
                return Err(format!("a refusal changed the files: {after:?}"));
            }
        }
        (Some(code), Ok(out)) => return Err(format!("applied ({out:?}) instead of {code}")),
        (None, Err(e)) => return Err(format!("refused with {}: {e}", e.code())),
        (None, Ok(_)) => {
            let state: Value = after
                .remove(STATE_FILE)
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap_or(Value::Null);
            let expect = &case["expect"];
            if state != expect["state"] {
                return Err(format!("state {state} instead of {}", expect["state"]));
            }
            let want: BTreeMap<String, String> =
                serde_json::from_value(expect["files"].clone()).unwrap();
            if after != want {
                return Err(format!("files {after:#?}\ninstead of {want:#?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_apply_vector() {
    let vectors = vectors();
    let cases = vectors["apply"].as_array().unwrap();
    assert!(cases.len() >= 30, "the apply vectors are all there");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run_case(&vectors, case)
                .err()
                .map(|why| format!("{}: {why}", case["name"].as_str().unwrap()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_validate_vector() {
    let vectors = vectors();
    let cases = vectors["validate"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let bytes = serde_json::to_vec(&case["document"]).unwrap();
        let got = ConfigDocument::parse(&bytes)
            .err()
            .map(|_| "config_invalid");
        assert_eq!(
            got,
            case["error"].as_str(),
            "{}",
            case["name"].as_str().unwrap()
        );
    }
}
