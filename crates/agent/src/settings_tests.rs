//! Layering and secret-handling tests for the settings module.

use std::collections::HashMap;

use super::*;

const AS: &str = "ocf_as_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const ES: &str = "ocf_es_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA";
const ID: &str = "7f9c2f64-3b7e-4c1a-9d3e-2a6b8c0d1e2f";

fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |k| map.get(k).cloned()
}

fn base_env(extra: &[(&str, String)]) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![
        ("HOME", "/home/me".into()),
        (ENV_URL, "http://env.example:8080".into()),
        (ENV_AGENT_ID, ID.into()),
        (ENV_AGENT_SECRET, AS.into()),
        (ENV_ENCRYPTION_SECRET, ES.into()),
    ];
    for (k, val) in extra {
        v.retain(|(name, _)| name != k);
        v.push((leak(k), val.clone()));
    }
    v
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

#[test]
fn flags_beat_env_which_beats_the_file_which_beats_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("agent.toml");
    std::fs::write(
        &toml,
        "url = \"http://file.example\"\ngateway_url = \"http://127.0.0.1:1\"\non_change = \"true\"\n",
    )
    .unwrap();
    let env = env_of(&base_env(&[]));
    let mut args = SettingsArgs {
        config: Some(toml),
        ..Default::default()
    };
    let s = Layered::gather(&args, &env).unwrap().resolve().unwrap();
    assert_eq!(s.url.as_str(), "http://env.example:8080/");
    assert_eq!(s.gateway_url.as_str(), "http://127.0.0.1:1/");
    assert_eq!(s.on_change.as_deref(), Some("true"));
    assert_eq!(s.state_dir, PathBuf::from("/home/me/.openclaw"));
    assert_eq!(s.agent_id.to_string(), ID);

    args.url = Some("https://flag.example".into());
    args.state_dir = Some("~/oc".into());
    let s = Layered::gather(&args, &env).unwrap().resolve().unwrap();
    assert_eq!(s.url.as_str(), "https://flag.example/");
    assert_eq!(s.state_dir, PathBuf::from("/home/me/oc"));

    let no_file = Layered::gather(&SettingsArgs::default(), &env).unwrap();
    assert_eq!(no_file.gateway_url, DEFAULT_GATEWAY_URL);
}

#[test]
fn secrets_come_from_files_and_never_from_two_places() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("es");
    std::fs::write(&file, format!("{ES}\n")).unwrap();
    let mut vars = base_env(&[]);
    vars.retain(|(k, _)| *k != ENV_ENCRYPTION_SECRET);
    vars.push((
        "OPENCLAW_FLEET_ENCRYPTION_SECRET_FILE",
        file.display().to_string(),
    ));
    let s = Layered::gather(&SettingsArgs::default(), &env_of(&vars))
        .unwrap()
        .resolve()
        .unwrap();
    assert_eq!(
        s.encryption_secret.as_ref().unwrap().expose_bytes(),
        EncryptionSecret::parse(ES).unwrap().expose_bytes()
    );
    vars.push((ENV_ENCRYPTION_SECRET, ES.into()));
    let err = Layered::gather(&SettingsArgs::default(), &env_of(&vars))
        .err()
        .unwrap();
    assert!(matches!(
        err,
        SettingsError::Ambiguous(ENV_ENCRYPTION_SECRET)
    ));
}

#[test]
fn errors_name_the_setting_and_never_the_secret() {
    let bad = "ocf_as_not-a-valid-secret-value";
    let env = env_of(&base_env(&[(ENV_AGENT_SECRET, bad.into())]));
    let err = Layered::gather(&SettingsArgs::default(), &env)
        .unwrap()
        .resolve()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(ENV_AGENT_SECRET), "{err}");
    assert!(!err.contains("not-a-valid"), "{err}");

    let mut vars = base_env(&[]);
    vars.retain(|(k, _)| *k != ENV_AGENT_ID);
    let err = Layered::gather(&SettingsArgs::default(), &env_of(&vars))
        .unwrap()
        .resolve()
        .err()
        .unwrap();
    assert!(matches!(err, SettingsError::Missing(ENV_AGENT_ID)));
}

#[test]
fn a_secret_pasted_into_the_toml_file_is_refused_without_being_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("agent.toml");
    std::fs::write(
        &toml,
        format!("url = \"http://x\"\nagent_secret = \"{AS}\"\n"),
    )
    .unwrap();
    let args = SettingsArgs {
        config: Some(toml),
        ..Default::default()
    };
    let err = Layered::gather(&args, &env_of(&base_env(&[])))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains(AS), "{err}");
}

#[test]
fn urls_must_be_http_without_credentials() {
    for bad in ["ftp://x", "not a url", "http://user:pw@host"] {
        let env = env_of(&base_env(&[(ENV_URL, bad.into())]));
        let layered = Layered::gather(&SettingsArgs::default(), &env).unwrap();
        assert!(layered.resolve().is_err(), "{bad} accepted");
    }
}

#[test]
fn the_clock_correction_bound_is_layered_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("agent.toml");
    std::fs::write(&toml, "max_clock_correction = 120\n").unwrap();
    let resolve = |args: &SettingsArgs, extra: &[(&str, String)]| {
        Layered::gather(args, &env_of(&base_env(extra)))
            .and_then(|l| l.resolve())
            .map(|s| s.max_clock_correction)
    };
    let mut args = SettingsArgs::default();
    assert_eq!(resolve(&args, &[]).unwrap(), DEFAULT_MAX_CLOCK_CORRECTION);
    assert_eq!(DEFAULT_MAX_CLOCK_CORRECTION, 600);
    args.config = Some(toml);
    assert_eq!(resolve(&args, &[]).unwrap(), 120);
    assert_eq!(
        resolve(&args, &[(ENV_MAX_CLOCK_CORRECTION, "30".into())]).unwrap(),
        30
    );
    args.max_clock_correction = Some("0".into());
    assert_eq!(
        resolve(&args, &[(ENV_MAX_CLOCK_CORRECTION, "30".into())]).unwrap(),
        0
    );
    for bad in ["-1", "ten", "86401"] {
        let err = resolve(
            &SettingsArgs::default(),
            &[(ENV_MAX_CLOCK_CORRECTION, bad.into())],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains(ENV_MAX_CLOCK_CORRECTION), "{bad}: {err}");
    }
}

#[test]
fn without_an_encryption_secret_the_agent_is_monitor_only() {
    let mut vars = base_env(&[]);
    vars.retain(|(k, _)| *k != ENV_ENCRYPTION_SECRET);
    let s = Layered::gather(&SettingsArgs::default(), &env_of(&vars))
        .unwrap()
        .resolve()
        .unwrap();
    assert!(s.encryption_secret.is_none());
}

const ET: &str = "ocf_et_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA";

fn ed25519_vars(state_dir: &Path, extra: &[(&str, String)]) -> Vec<(&'static str, String)> {
    let mut vars = base_env(extra);
    vars.retain(|(k, _)| *k != ENV_AGENT_SECRET);
    vars.push((ENV_STATE_DIR, state_dir.display().to_string()));
    vars
}

fn credential(vars: &[(&str, String)], args: &SettingsArgs) -> Result<Credential, SettingsError> {
    Layered::gather(args, &env_of(vars))
        .and_then(|l| l.resolve())
        .map(|s| s.credential)
}

#[test]
fn the_identity_is_an_hmac_secret_or_ed25519_settings_never_both() {
    let dir = tempfile::tempdir().unwrap();
    let args = SettingsArgs::default();
    assert!(matches!(
        credential(&base_env(&[]), &args),
        Ok(Credential::Hmac(_))
    ));

    let vars = ed25519_vars(dir.path(), &[(ENV_ENROLLMENT_TOKEN, ET.into())]);
    match credential(&vars, &args) {
        Ok(Credential::Ed25519 {
            identity_key: None,
            enrollment_token: Some(token),
        }) => assert_eq!(token.expose_secret(), ET),
        _ => panic!("a token makes an Ed25519 agent"),
    }
    // The token from a file named by the flag; the flag and the variable together are refused.
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{ET}\n")).unwrap();
    let with_flag = SettingsArgs {
        enrollment_token_file: Some(file),
        ..Default::default()
    };
    let vars = ed25519_vars(dir.path(), &[]);
    assert!(matches!(
        credential(&vars, &with_flag),
        Ok(Credential::Ed25519 {
            enrollment_token: Some(_),
            ..
        })
    ));
    let both = ed25519_vars(dir.path(), &[(ENV_ENROLLMENT_TOKEN, ET.into())]);
    assert!(matches!(
        credential(&both, &with_flag),
        Err(SettingsError::Ambiguous(ENV_ENROLLMENT_TOKEN))
    ));

    let two = base_env(&[(ENV_ENROLLMENT_TOKEN, ET.into())]);
    let err = credential(&two, &args).err().unwrap().to_string();
    assert!(err.contains("only those of this agent's kind"), "{err}");
    assert!(!err.contains(AS) && !err.contains(ET), "{err}");
    let key = openclaw_fleet_protocol::IdentityKey::generate();
    let two = base_env(&[(ENV_IDENTITY_KEY, key.to_encoded_secret().to_string())]);
    assert!(matches!(
        credential(&two, &args),
        Err(SettingsError::TwoIdentities)
    ));
}

#[test]
fn without_secret_or_token_a_key_file_left_by_a_run_makes_an_ed25519_agent() {
    let dir = tempfile::tempdir().unwrap();
    let vars = ed25519_vars(dir.path(), &[]);
    let args = SettingsArgs::default();
    let err = credential(&vars, &args).err().unwrap().to_string();
    assert!(
        err.contains(ENV_ENROLLMENT_TOKEN) && err.contains(ENV_AGENT_SECRET),
        "{err}"
    );
    crate::identity::load_or_create(dir.path()).unwrap();
    assert!(matches!(
        credential(&vars, &args),
        Ok(Credential::Ed25519 {
            identity_key: None,
            enrollment_token: None
        })
    ));
}

#[test]
fn malformed_tokens_and_keys_are_named_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bad) in [
        (ENV_ENROLLMENT_TOKEN, "ocf_et_SECRETISH-but-short"),
        (ENV_IDENTITY_KEY, "ocf_ik_SECRETISH-but-short"),
        (
            ENV_ENROLLMENT_TOKEN,
            "ocf_as_SECRETISHSECRETISHSECRETISHSECRETISHSECR",
        ),
    ] {
        let vars = ed25519_vars(dir.path(), &[(name, bad.into())]);
        let err = credential(&vars, &SettingsArgs::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(name), "{err}");
        assert!(!err.contains("SECRETISH"), "{err}");
    }
}
