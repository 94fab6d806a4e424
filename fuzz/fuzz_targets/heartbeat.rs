//! `HeartbeatRequest::parse` on any JSON: never panics; what it accepts keeps the
//! SPEC §3 limits (a version every party can represent, finite non-negative metrics,
//! at most 32 custom ones; short text without control characters or secret prefixes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_fleet_protocol::wire::{KNOWN_METRICS, MAX_EXTRA_METRICS};
use openclaw_fleet_protocol::{HeartbeatRequest, MAX_VERSION};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(hb) = HeartbeatRequest::parse(&value) else {
        return;
    };
    // Versions are stored as signed 64-bit integers and read by JavaScript.
    assert!(hb.config_version_applied.unwrap_or(0) <= MAX_VERSION);
    for (name, n) in &hb.metrics {
        assert!(n.is_finite() && *n >= 0.0, "{name}");
    }
    let custom = hb
        .metrics
        .keys()
        .filter(|k| !KNOWN_METRICS.contains(&k.as_str()));
    assert!(custom.count() <= MAX_EXTRA_METRICS);
    for text in [
        &hb.version,
        &hb.machine_id,
        &hb.location,
        &hb.model,
        &hb.error,
    ]
    .into_iter()
    .flatten()
    {
        assert!(text.chars().count() <= 200);
        assert!(!text.chars().any(char::is_control));
        assert!(!text.contains("ocf_as_") && !text.contains("ocf_es_"));
    }
});
