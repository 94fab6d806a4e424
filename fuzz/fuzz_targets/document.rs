//! `ConfigDocument::parse` on any bytes (what an agent decrypts): never panics; an
//! accepted document has only valid env names and one-line values, and its own JSON
//! form parses back to the same document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_fleet_protocol::{valid_env_name, ConfigDocument};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = ConfigDocument::parse(data) else {
        return;
    };
    for (name, value) in &doc.env {
        assert!(valid_env_name(name));
        assert!(!value.contains(['\0', '\n', '\r']));
    }
    let again = ConfigDocument::parse(&doc.to_json_bytes()).expect("own output parses");
    assert_eq!(again.env, doc.env);
    assert_eq!(again.openclaw, doc.openclaw);
});
