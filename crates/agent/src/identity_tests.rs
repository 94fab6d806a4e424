//! The key file and the enrollment record: made 0600 once, reused, never
//! followed or replaced, refused when shared or malformed (without quoting
//! it); and the agent's bodies against the identity vectors.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use openclaw_fleet_protocol::{
    enroll_body, handshake_body_ed25519, AgentId, EnrollmentToken, IdentityKey,
};
use serde_json::Value;

use super::*;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_key_is_made_once_0600_and_then_reused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("openclaw");
    let (key, made) = load_or_create(&state).unwrap();
    assert!(made);
    let path = state.join(KEY_FILE);
    assert_eq!(mode(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("ocf_ik_") && text.ends_with('\n'));
    let (again, made) = load_or_create(&state).unwrap();
    assert!(!made);
    assert_eq!(again.public_key().to_string(), key.public_key().to_string());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        text,
        "the key file was rewritten"
    );
    assert_eq!(fs::read_dir(&state).unwrap().count(), 1, "temp file left");
}

#[test]
fn a_planted_link_is_neither_followed_nor_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("openclaw");
    fs::create_dir(&state).unwrap();
    let outside = dir.path().join("stolen-key");
    std::os::unix::fs::symlink(&outside, state.join(KEY_FILE)).unwrap();
    let err = load_or_create(&state)
        .err()
        .expect("a dangling link is refused");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(!outside.exists(), "the key was written through the link");

    let planted = IdentityKey::generate();
    fs::write(
        &outside,
        format!("{}\n", planted.to_encoded_secret().as_str()),
    )
    .unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(
        load_or_create(&state).is_err(),
        "a key behind a link is not used"
    );
}

#[test]
fn a_shared_or_malformed_key_file_stops_the_start_without_being_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(KEY_FILE);
    let key = IdentityKey::generate();
    let text = format!("{}\n", key.to_encoded_secret().as_str());
    for (content, perm, words) in [
        (text.as_str(), 0o644, "accessible to other users"),
        (text.as_str(), 0o640, "accessible to other users"),
        ("ocf_ik_not-a-key\n", 0o600, "does not hold an ocf_ik_ key"),
        ("", 0o600, "does not hold an ocf_ik_ key"),
    ] {
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(perm)).unwrap();
        let err = load_or_create(dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(words), "{err}");
        assert!(!err.contains(&text.trim()[7..]), "the key was quoted");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            content,
            "the file was changed"
        );
    }
}

#[test]
fn the_enrollment_record_names_agent_key_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentId::new_v4();
    let key = IdentityKey::generate();
    let pk = key.public_key().to_string();
    let token = EnrollmentToken::generate();
    assert!(!is_enrolled(dir.path(), &agent, &pk, &token));
    record_enrollment(dir.path(), &agent, &pk, &token).unwrap();
    assert!(is_enrolled(dir.path(), &agent, &pk, &token));
    let path = dir.path().join(ENROLLMENT_FILE);
    assert_eq!(mode(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(token.expose_secret()),
        "the token itself is recorded"
    );
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["public_key"], pk.as_str());
    assert!(!is_enrolled(dir.path(), &AgentId::new_v4(), &pk, &token));
    assert!(!is_enrolled(
        dir.path(),
        &agent,
        &IdentityKey::generate().public_key().to_string(),
        &token
    ));
    assert!(!is_enrolled(
        dir.path(),
        &agent,
        &pk,
        &EnrollmentToken::generate()
    ));
    fs::write(&path, "{not json").unwrap();
    assert!(!is_enrolled(dir.path(), &agent, &pk, &token));
}

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/test-vectors/identity-ed25519.json"
    );
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_agent_signs_every_vector_byte_for_byte() {
    let v = vectors();
    for case in v["valid"].as_array().unwrap() {
        let key = IdentityKey::parse(case["identity_key"].as_str().unwrap()).unwrap();
        assert_eq!(
            key.public_key().to_string(),
            case["public_key"].as_str().unwrap()
        );
        let agent = AgentId::parse(case["agent_id"].as_str().unwrap()).unwrap();
        let ts: u64 = case["timestamp"].as_str().unwrap().parse().unwrap();
        let body = handshake_body_ed25519(&agent, ts, &key);
        assert_eq!(body["alg"], "ed25519");
        assert_eq!(body["timestamp"], case["timestamp"]);
        assert_eq!(body["signature"], case["signature"]);
    }
    for case in v["enroll"].as_array().unwrap() {
        let key = IdentityKey::parse(case["identity_key"].as_str().unwrap()).unwrap();
        let agent = AgentId::parse(case["agent_id"].as_str().unwrap()).unwrap();
        let token = EnrollmentToken::parse(case["enrollment_token"].as_str().unwrap()).unwrap();
        let ts: u64 = case["timestamp"].as_str().unwrap().parse().unwrap();
        let body = enroll_body(&agent, &token, &key, ts);
        assert_eq!(body["public_key"], case["public_key"]);
        assert_eq!(body["enrollment_token"], case["enrollment_token"]);
        assert_eq!(body["signature"], case["signature"]);
    }
}
