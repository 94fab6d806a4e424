//! The command line as an operator meets it: help, version, one-line errors
//! that name the missing setting, and install-service.

use std::process::Command;

use crate::common::{mode, Host, BIN};

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
    for line in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        &format!("ReadWritePaths={}", dir.path().join("oc").display()),
    ] {
        assert!(
            unit_text.lines().any(|l| l == line),
            "{line} missing:\n{unit_text}"
        );
    }
    assert!(
        dir.path().join("oc").is_dir(),
        "ReadWritePaths= must exist for the unit to start"
    );
}

fn install_for_state_dir(dir: &std::path::Path, state: &std::path::Path) -> (String, String) {
    let unit = dir.join("openclaw-fleet-agent.service");
    let out = agent(&[
        "install-service",
        "--unit-path",
        unit.to_str().unwrap(),
        "--env-file",
        dir.join("agent.env").to_str().unwrap(),
    ])
    .env("OPENCLAW_FLEET_URL", "https://fleet.example.com")
    .env("OPENCLAW_FLEET_AGENT_ID", ID)
    .env("OPENCLAW_FLEET_AGENT_SECRET", AS)
    .env("OPENCLAW_STATE_DIR", state)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(&unit).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// The unit runs the agent as the owner of the state directory, hardened, and the
/// directory it may write exists (created for that owner when missing).
#[test]
fn install_service_runs_the_agent_as_the_state_directorys_owner() {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: giving a directory to another user needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home-of-12345");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(12345), Some(12345)).unwrap();
    let state = home.join(".openclaw");
    let (unit, stdout) = install_for_state_dir(dir.path(), &state);
    let service: Vec<&str> = unit
        .split("[Service]")
        .nth(1)
        .unwrap()
        .split("[Install]")
        .next()
        .unwrap()
        .lines()
        .collect();
    let rw = format!("ReadWritePaths={}", state.display());
    for line in [
        "User=12345",
        "Group=12345",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "UMask=0077",
        rw.as_str(),
    ] {
        assert!(service.contains(&line), "{line} missing:\n{unit}");
    }
    assert!(stdout.contains("runs as 12345:12345"), "{stdout}");
    let meta = std::fs::metadata(&state).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (12345, 12345, 0o700)
    );

    // An existing directory's owner wins over its parent's.
    let other = dir.path().join("srv-openclaw");
    std::fs::create_dir(&other).unwrap();
    std::os::unix::fs::chown(&other, Some(23456), Some(34567)).unwrap();
    let (unit, _) = install_for_state_dir(dir.path(), &other);
    assert!(unit.contains("User=23456\nGroup=34567\n"), "{unit}");
}

/// systemd's own parser accepts every line of the unit (skipped, with the reason
/// printed, where systemd-analyze is not installed).
#[test]
fn install_service_unit_passes_systemd_analyze_verify() {
    let probe = Command::new("systemd-analyze").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: systemd-analyze is not installed here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = install_for_state_dir(dir.path(), &dir.path().join("oc"));
    let unit = dir.path().join("openclaw-fleet-agent.service");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let name = unit.file_name().unwrap().to_string_lossy().into_owned();
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains(&name)).collect();
    assert!(complaints.is_empty(), "systemd complains:\n{stderr}");
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

#[test]
fn secret_and_token_together_are_refused_and_nothing_is_made() {
    let host = Host::ed25519(
        "http://127.0.0.1:9",
        &uuid(),
        "ocf_et_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    let out = host
        .command(&["run", "--once"])
        .env(
            "OPENCLAW_FLEET_AGENT_SECRET",
            "ocf_as_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("set only those of this agent's kind"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("AAAAAAAA"),
        "a secret was quoted: {stderr}"
    );
    assert!(host.read(".fleet-agent-identity-key").is_none());

    let none = Host::new("http://127.0.0.1:9", &uuid(), "");
    let out = none.command(&["run", "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("OPENCLAW_FLEET_ENROLLMENT_TOKEN")
            && stderr.contains("OPENCLAW_FLEET_AGENT_SECRET"),
        "{stderr}"
    );
    let bad = Host::ed25519("http://127.0.0.1:9", &uuid(), "ocf_et_tooshort");
    let out = bad.command(&["run", "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OPENCLAW_FLEET_ENROLLMENT_TOKEN") && !stderr.contains("tooshort"),
        "{stderr}"
    );
}

#[test]
fn help_documents_the_ed25519_settings() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(crate::common::BIN)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = help(&["--help"]);
    for word in [
        "OPENCLAW_FLEET_ENROLLMENT_TOKEN",
        "OPENCLAW_FLEET_IDENTITY_KEY",
        ".fleet-agent-identity-key",
    ] {
        assert!(top.contains(word), "{word} missing from --help");
    }
    let run = help(&["run", "--help"]);
    assert!(run.contains("--enrollment-token-file"), "{run}");
    assert!(
        !run.contains("--enrollment-token "),
        "the token itself is never a flag"
    );
}

fn uuid() -> String {
    openclaw_fleet_protocol::AgentId::new_v4().to_string()
}

#[test]
fn install_service_writes_an_ed25519_agents_token_and_makes_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let token = "ocf_et_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).unwrap();
    let unit = dir.path().join("u.service");
    let env_file = dir.path().join("agent.env");
    let state = dir.path().join("oc");
    let out = agent(&[
        "install-service",
        "--unit-path",
        unit.to_str().unwrap(),
        "--env-file",
        env_file.to_str().unwrap(),
        "--enrollment-token-file",
        token_file.to_str().unwrap(),
    ])
    .env("OPENCLAW_FLEET_URL", "https://fleet.example.com")
    .env("OPENCLAW_FLEET_AGENT_ID", ID)
    .env("OPENCLAW_STATE_DIR", &state)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        env.contains(&format!(
            "OPENCLAW_FLEET_ENROLLMENT_TOKEN_FILE=\"{}\"",
            token_file.display()
        )),
        "{env}"
    );
    assert!(!env.contains("AGENT_SECRET") && !env.contains(token));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(token));
    assert!(
        !state.join(".fleet-agent-identity-key").exists(),
        "the key is made by the first run, not by the installer"
    );
}
