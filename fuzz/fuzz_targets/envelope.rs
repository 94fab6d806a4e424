//! `Envelope::parse` on any JSON: never panics; what it accepts re-serializes to a
//! form it accepts again as the same envelope, and opening it with a wrong key fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_fleet_protocol::{AgentId, EncryptionSecret, Envelope, MAX_VERSION};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(env) = Envelope::parse(&value) else {
        return;
    };
    assert!((1..=MAX_VERSION).contains(&env.version));
    assert!(env.ct.len() >= 16);
    let text = env.to_json_string();
    let again = Envelope::parse(&serde_json::from_str(&text).expect("own output is JSON"))
        .expect("own output parses");
    assert_eq!(again, env);
    let secret = EncryptionSecret::from_bytes([7; 32]);
    let other = AgentId::parse("00000000-0000-4000-8000-000000000000").expect("id");
    if env.agent_id != other {
        assert!(
            env.open(&secret, &other).is_err(),
            "opened for another agent"
        );
    }
    let _ = env.open(&secret, &env.agent_id);
});
