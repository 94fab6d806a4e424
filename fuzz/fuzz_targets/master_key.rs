//! `Kdf::parse` and `Sealed::parse` on any JSON: never panic; accepted values
//! re-serialize to forms that parse back equal, and the policy check holds its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_fleet_protocol::{Kdf, Sealed, MAX_ITERATIONS, MIN_ITERATIONS};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(kdf) = Kdf::parse(&value) {
        assert_eq!(Kdf::parse(&kdf.to_json()).expect("own output parses"), kdf);
        let in_policy = (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&kdf.iterations);
        assert_eq!(kdf.check_policy().is_ok(), in_policy);
    }
    if let Ok(sealed) = Sealed::parse(&value) {
        assert!(sealed.ct.len() >= 16);
        assert_eq!(
            Sealed::parse(&sealed.to_json()).expect("own output parses"),
            sealed
        );
    }
});
