//! Apply tests over a temporary state directory, with envelopes sealed by
//! the protocol crate exactly as the dashboard seals them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{json, Value};

use super::*;

struct Host {
    dir: tempfile::TempDir,
    agent: AgentId,
    secret: EncryptionSecret,
}

impl Host {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            agent: AgentId::new_v4(),
            secret: EncryptionSecret::generate(),
        }
    }

    fn seal(&self, version: u64, doc: Value) -> Value {
        seal_for(&self.secret, &self.agent, version, doc)
    }

    fn apply(&self, envelope: &Value) -> Result<Outcome, ApplyError> {
        self.apply_with(envelope, &Validator::None)
    }

    fn apply_with(&self, envelope: &Value, v: &Validator) -> Result<Outcome, ApplyError> {
        apply_envelope(self.dir.path(), envelope, &self.agent, &self.secret, v)
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.read(OPENCLAW_JSON)).unwrap()
    }
}

fn seal_for(secret: &EncryptionSecret, agent: &AgentId, version: u64, doc: Value) -> Value {
    let bytes = serde_json::to_vec(&doc).unwrap();
    Envelope::seal(secret, agent, version, &bytes)
        .unwrap()
        .to_json()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn v1() -> Value {
    json!({"schema": 1,
           "env": {"ANTHROPIC_API_KEY": "sk-ant-1", "OLD_VAR": "x"},
           "openclaw": {"agents": {"defaults": {"model": "a"}}, "gateway": {"port": 1}}})
}

fn v2() -> Value {
    json!({"schema": 1,
           "env": {"ANTHROPIC_API_KEY": "sk-ant-2"},
           "openclaw": {"agents": {"defaults": {"model": "b"}}}})
}

#[test]
fn applies_env_and_json_with_mode_0600_and_records_the_version() {
    let host = Host::new();
    fs::write(host.dir.path().join(ENV_FILE), "MINE=1\n").unwrap();
    let out = host.apply(&host.seal(1, v1())).unwrap();
    assert_eq!(
        out,
        Outcome::Applied {
            version: 1,
            changed: true
        }
    );
    let env = host.read(ENV_FILE);
    assert!(env.starts_with("MINE=1\n"));
    assert!(env.contains("ANTHROPIC_API_KEY='sk-ant-1'\n"));
    assert_eq!(host.json()["gateway"]["port"], 1);
    assert_eq!(mode(&host.dir.path().join(ENV_FILE)), 0o600);
    assert_eq!(mode(&host.dir.path().join(OPENCLAW_JSON)), 0o600);
    let state = AgentState::load(host.dir.path()).unwrap();
    assert_eq!(state.applied_for(&host.agent), 1);
}

#[test]
fn same_version_again_is_a_no_op() {
    let host = Host::new();
    let envelope = host.seal(1, v1());
    host.apply(&envelope).unwrap();
    let before = host.snapshot();
    assert_eq!(
        host.apply(&envelope).unwrap(),
        Outcome::AlreadyApplied { version: 1 }
    );
    assert_eq!(host.snapshot(), before);
}

#[test]
fn a_new_version_removes_what_the_old_one_set_and_keeps_the_owners_keys() {
    let host = Host::new();
    fs::write(
        host.dir.path().join(OPENCLAW_JSON),
        r#"{ // the owner's own file, in JSON5
            agents: { mine: true, },
            ui: { theme: 'dark' },
        }"#,
    )
    .unwrap();
    host.apply(&host.seal(1, v1())).unwrap();
    host.apply(&host.seal(2, v2())).unwrap();
    assert_eq!(
        host.json(),
        json!({"agents": {"mine": true, "defaults": {"model": "b"}}, "ui": {"theme": "dark"}})
    );
    let env = host.read(ENV_FILE);
    assert!(env.contains("ANTHROPIC_API_KEY='sk-ant-2'"));
    assert!(!env.contains("OLD_VAR"));
    let backup: Value = serde_json::from_str(&host.read(OPENCLAW_JSON_BACKUP)).unwrap();
    assert_eq!(
        backup["gateway"]["port"], 1,
        "backup holds the previous file"
    );
}

#[test]
fn refusals_keep_the_last_good_config() {
    let host = Host::new();
    host.apply(&host.seal(1, v1())).unwrap();
    host.apply(&host.seal(2, v2())).unwrap();
    let good = host.snapshot();

    let rollback = host.apply(&host.seal(1, v1())).unwrap_err();
    assert_eq!(rollback.code(), "config_rollback");

    let other = AgentId::new_v4();
    let wrong_agent = seal_for(&host.secret, &other, 3, v1());
    assert_eq!(
        host.apply(&wrong_agent).unwrap_err().code(),
        "config_wrong_agent"
    );

    let forged = seal_for(&EncryptionSecret::generate(), &host.agent, 3, v1());
    assert_eq!(
        host.apply(&forged).unwrap_err().code(),
        "config_auth_failed"
    );

    let mut relabelled = host.seal(3, v1());
    relabelled["version"] = json!(4);
    assert_eq!(
        host.apply(&relabelled).unwrap_err().code(),
        "config_auth_failed"
    );

    let mut tampered = Envelope::parse(&host.seal(3, v1())).unwrap();
    tampered.ct[0] ^= 1;
    assert_eq!(
        host.apply(&tampered.to_json()).unwrap_err().code(),
        "config_auth_failed"
    );

    let bad_name = host.seal(3, json!({"schema": 1, "env": {"lower": "x"}}));
    assert_eq!(host.apply(&bad_name).unwrap_err().code(), "config_invalid");
    let bad_schema = host.seal(3, json!({"schema": 2}));
    assert_eq!(
        host.apply(&bad_schema).unwrap_err().code(),
        "config_invalid"
    );
    assert_eq!(
        host.apply(&json!({"v": 1})).unwrap_err().code(),
        "config_invalid"
    );

    assert_eq!(host.snapshot(), good, "a refusal touched the files");
    assert_eq!(
        AgentState::load(host.dir.path())
            .unwrap()
            .applied_for(&host.agent),
        2
    );
}

#[test]
fn a_failed_openclaw_check_restores_the_previous_files() {
    let host = Host::new();
    host.apply(&host.seal(1, v1())).unwrap();
    let good = host.snapshot();
    let rejecting = Validator::Command("/bin/false".into());
    let err = host
        .apply_with(&host.seal(2, v2()), &rejecting)
        .unwrap_err();
    assert_eq!(err.code(), "config_validate_failed");
    let mut after = host.snapshot();
    after.retain(|(name, _)| name != OPENCLAW_JSON_BACKUP);
    let mut expected = good;
    expected.retain(|(name, _)| name != OPENCLAW_JSON_BACKUP);
    assert_eq!(after, expected);
    assert_eq!(
        AgentState::load(host.dir.path())
            .unwrap()
            .applied_for(&host.agent),
        1
    );
    let accepting = Validator::Command("/bin/true".into());
    assert!(host.apply_with(&host.seal(2, v2()), &accepting).is_ok());
}

#[test]
fn an_unreadable_openclaw_json_is_left_alone() {
    let host = Host::new();
    fs::write(host.dir.path().join(OPENCLAW_JSON), "{ not json").unwrap();
    let err = host.apply(&host.seal(1, v1())).unwrap_err();
    assert_eq!(err.code(), "openclaw_json_invalid");
    assert_eq!(host.read(OPENCLAW_JSON), "{ not json");
    assert!(!host.dir.path().join(ENV_FILE).exists());
}

#[test]
fn an_unchanged_document_under_a_new_version_changes_nothing() {
    let host = Host::new();
    host.apply(&host.seal(1, v1())).unwrap();
    let out = host.apply(&host.seal(2, v1())).unwrap();
    assert_eq!(
        out,
        Outcome::Applied {
            version: 2,
            changed: false
        }
    );
}
