//! Inputs found by fuzzing `fuzz/` (or by the invariants its targets check), kept as
//! plain tests over the exact input, so a fixed parser stays fixed without the fuzzer.

use openclaw_fleet_protocol::{HeartbeatRequest, MAX_VERSION};
use serde_json::Value;

fn heartbeat(bytes: &[u8]) -> Option<HeartbeatRequest> {
    let value: Value = serde_json::from_slice(bytes).expect("test input is JSON");
    HeartbeatRequest::parse(&value).ok()
}

/// An applied version beyond what every party can represent (and beyond the server's
/// signed 64-bit column, where it turned into -1) was accepted.
#[test]
fn heartbeat_applied_version_is_bounded() {
    let body = |v: &str| {
        format!(
            r#"{{"agent_id":"75d490bd-b9e2-44ea-a49c-ea2cf9b45726","status":"healthy","metrics":{{}},"config_version_applied":{v}}}"#
        )
    };
    assert!(heartbeat(body("18446744073709551615").as_bytes()).is_none());
    assert!(heartbeat(body("9223372036854775808").as_bytes()).is_none());
    assert!(heartbeat(body(&(MAX_VERSION + 1).to_string()).as_bytes()).is_none());
    let ok = heartbeat(body(&MAX_VERSION.to_string()).as_bytes()).expect("the largest version");
    assert_eq!(ok.config_version_applied, Some(MAX_VERSION));
    assert_eq!(
        heartbeat(body("0").as_bytes())
            .expect("zero")
            .config_version_applied,
        Some(0)
    );
}
