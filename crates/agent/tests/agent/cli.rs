//! The command line as an operator meets it: help, version, one-line errors
//! that name the missing setting, and install-service.

use std::process::Command;

use crate::common::{mode, BIN};

const AS: &str = "ocf_as_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const ES: &str = "ocf_es_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA";
const ID: &str = "7f9c2f64-3b7e-4c1a-9d3e-2a6b8c0d1e2f";

fn agent(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().env("HOME", "/nonexistent-home");
    cmd
}

#[test]
fn help_names_the_commands_and_every_setting() {
    let out = agent(&["--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "run",
        "install-service",
        "version",
        "OPENCLAW_FLEET_URL",
        "OPENCLAW_FLEET_AGENT_SECRET",
        "OPENCLAW_FLEET_ENCRYPTION_SECRET",
        "OPENCLAW_STATE_DIR",
        "OPENCLAW_GATEWAY_URL",
    ] {
        assert!(help.contains(needle), "--help does not mention {needle}");
    }
    let run_help = String::from_utf8(agent(&["run", "--help"]).output().unwrap().stdout).unwrap();
    assert!(run_help.contains("--once") && run_help.contains("--on-change"));
    assert!(
        !run_help.contains("--agent-secret"),
        "secrets must not be flags"
    );
}

#[test]
fn version_prints_the_crate_version() {
    let out = agent(&["version"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("openclaw-fleet-agent {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn run_without_settings_fails_with_one_line_naming_the_setting() {
    let out = agent(&["run", "--once"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("OPENCLAW_FLEET_URL"), "{err}");
}

#[test]
fn a_malformed_secret_is_refused_without_echoing_it() {
    let bad = "ocf_es_this-is-not-32-bytes";
    let out = agent(&["run", "--once"])
        .env("OPENCLAW_FLEET_URL", "http://127.0.0.1:9")
        .env("OPENCLAW_FLEET_AGENT_ID", ID)
        .env("OPENCLAW_FLEET_AGENT_SECRET", AS)
        .env("OPENCLAW_FLEET_ENCRYPTION_SECRET", bad)
        .env("OPENCLAW_STATE_DIR", "/tmp/unused")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("OPENCLAW_FLEET_ENCRYPTION_SECRET"), "{err}");
    assert!(!err.contains("this-is-not"), "{err}");
}

#[test]
fn install_service_writes_a_private_env_file_and_a_secret_free_unit() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("es.secret");
    std::fs::write(&secret_file, ES).unwrap();
    let unit = dir.path().join("units/openclaw-fleet-agent.service");
    let env_file = dir.path().join("etc/agent.env");
    let out = agent(&[
        "install-service",
        "--unit-path",
        unit.to_str().unwrap(),
        "--env-file",
        env_file.to_str().unwrap(),
        "--gateway-url",
        "http://127.0.0.1:18000",
    ])
    .env("OPENCLAW_FLEET_URL", "https://fleet.example.com")
    .env("OPENCLAW_FLEET_AGENT_ID", ID)
    .env("OPENCLAW_FLEET_AGENT_SECRET", AS)
    .env("OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE", &secret_file)
    .env("OPENCLAW_STATE_DIR", dir.path().join("oc"))
    .output()
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("systemctl daemon-reload && systemctl enable --now openclaw-fleet-agent")
    );
    assert!(!stdout.contains(AS) && !stdout.contains(ES));

    assert_eq!(mode(&env_file), 0o600);
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains(&format!("OPENCLAW_FLEET_AGENT_SECRET=\"{AS}\"")));
    assert!(env.contains(&format!(
        "OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE=\"{}\"",
        secret_file.display()
    )));
    assert!(env.contains("OPENCLAW_GATEWAY_URL=\"http://127.0.0.1:18000/\""));
    assert!(env.contains("OPENCLAW_FLEET_URL=\"https://fleet.example.com/\""));

    let unit_text = std::fs::read_to_string(&unit).unwrap();
    assert!(!unit_text.contains(AS) && !unit_text.contains(ES));
    assert!(unit_text.contains(&format!("EnvironmentFile={}", env_file.display())));
    assert!(unit_text.contains(&format!("ExecStart={BIN} run")));
    assert!(unit_text.contains("WantedBy=multi-user.target"));
}

#[test]
fn install_service_refuses_incomplete_settings() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("u.service");
    let out = agent(&[
        "install-service",
        "--user",
        "--unit-path",
        unit.to_str().unwrap(),
    ])
    .env("HOME", dir.path())
    .env("OPENCLAW_FLEET_URL", "https://fleet.example.com")
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("OPENCLAW_FLEET_AGENT_ID"));
    assert!(!unit.exists());
}
