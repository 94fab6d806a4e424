//! Runs every shared test vector (SPEC §8), valid and invalid, of all three
//! files. Valid vectors are reproduced byte for byte; each invalid vector
//! must fail with the specific error its `why` describes.

use std::collections::HashMap;
use std::sync::Mutex;

use openclaw_fleet_protocol::*;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

mod support;
use support::{cases, s, vectors};

fn agent(case: &Value) -> AgentId {
    AgentId::parse(s(case, "agent_id")).unwrap()
}

fn user(case: &Value) -> UserId {
    UserId::parse(s(case, "user_id")).unwrap()
}

#[test]
fn handshake_valid() {
    let file = vectors("handshake.json");
    for case in cases(&file, "valid") {
        let (id, ts, sig) = (
            s(case, "agent_id"),
            s(case, "timestamp"),
            s(case, "signature"),
        );
        let secret_text = s(case, "agent_secret");
        let secret = AgentSecret::from_opaque(secret_text.to_owned()).unwrap();
        if secret_text.starts_with("ocf_as_") {
            let strict = AgentSecret::parse(secret_text).unwrap();
            assert_eq!(strict.expose_secret(), secret_text);
        } else {
            assert!(matches!(
                AgentSecret::parse(secret_text),
                Err(ProtocolError::SecretFormat(_))
            ));
        }
        let (value, canonical) = canonical_timestamp(&case["timestamp"]).unwrap();
        assert_eq!(canonical, ts);
        assert_eq!(format!("{id}{canonical}"), s(case, "message"));
        assert_eq!(sign(id, &canonical, &secret), sig);
        assert!(verify(id, &canonical, &secret, sig));

        let from_int = canonical_timestamp(&Value::from(value)).unwrap();
        assert_eq!(from_int.1, ts);
        let body = handshake_body(&agent(case), value, &secret);
        assert_eq!(body["signature"], case["signature"]);
        let req = HandshakeRequest::parse(&body).unwrap();
        assert_eq!((req.timestamp, req.timestamp_text.as_str()), (value, ts));
        assert!(req.verify(&secret));
    }
}

#[test]
fn handshake_invalid() {
    let file = vectors("handshake.json");
    for case in cases(&file, "invalid") {
        let secret = AgentSecret::from_opaque(s(case, "agent_secret").to_owned()).unwrap();
        let (_, ts) = canonical_timestamp(&case["timestamp"]).unwrap();
        let (id, sig) = (s(case, "agent_id"), s(case, "signature"));
        assert!(!verify(id, &ts, &secret, sig), "{}", s(case, "why"));
        assert_ne!(sign(id, &ts, &secret), sig);
        let req = HandshakeRequest::parse(&serde_json::json!({
            "agent_id": id, "timestamp": case["timestamp"], "signature": sig
        }))
        .unwrap();
        assert!(!req.verify(&secret));
    }
}

#[test]
fn config_envelope_valid() {
    let file = vectors("config-envelope.json");
    for case in cases(&file, "valid") {
        let secret = EncryptionSecret::parse(s(case, "encryption_secret")).unwrap();
        assert_eq!(secret.to_encoded().as_str(), s(case, "encryption_secret"));
        let id = agent(case);
        assert_eq!(
            hex::encode(*config_key(&secret, &id)),
            s(case, "config_key_hex")
        );

        let env = Envelope::parse(&case["envelope"]).unwrap();
        assert_eq!(config_aad(&id, env.version), s(case, "aad"));
        assert_eq!(env.to_json(), case["envelope"]);
        let plaintext = s(case, "plaintext").as_bytes();
        let sealed = Envelope::seal_with_iv(&secret, &id, env.version, env.iv, plaintext).unwrap();
        assert_eq!(sealed, env);
        assert_eq!(sealed.to_json(), case["envelope"]);
        assert_eq!(env.open(&secret, &id).unwrap().as_slice(), plaintext);

        let doc = ConfigDocument::parse(plaintext).unwrap();
        let mut expected: Value = serde_json::from_slice(plaintext).unwrap();
        expected.as_object_mut().unwrap().remove("note");
        let written: Value = serde_json::from_slice(&doc.to_json_bytes()).unwrap();
        assert_eq!(written, expected);
    }
}

/// Golden test: the envelope's text form is stable, keys in SPEC order.
#[test]
fn envelope_text_form_is_stable() {
    let file = vectors("config-envelope.json");
    for case in cases(&file, "valid") {
        let e = &case["envelope"];
        let expected = format!(
            r#"{{"v":1,"alg":"A256GCM","agent_id":"{}","version":{},"iv":"{}","ct":"{}"}}"#,
            s(e, "agent_id"),
            e["version"],
            s(e, "iv"),
            s(e, "ct")
        );
        assert_eq!(Envelope::parse(e).unwrap().to_json_string(), expected);
    }
}

fn open_case(case: &Value) -> Result<()> {
    let secret = EncryptionSecret::parse(s(case, "encryption_secret"))?;
    let env = Envelope::parse(&case["envelope"])?;
    env.open(&secret, &agent(case)).map(drop)
}

#[test]
fn config_envelope_invalid() {
    let file = vectors("config-envelope.json");
    for case in cases(&file, "invalid") {
        let why = s(case, "why");
        let err = open_case(case).expect_err(why);
        let ok = match why {
            w if w.contains("bit flipped")
                || w.contains("AAD no longer matches")
                || w.contains("another agent's secret") =>
            {
                matches!(err, ProtocolError::Decryption)
            }
            w if w.contains("padding") => matches!(err, ProtocolError::Base64(_)),
            w if w.contains("iv is not 12 bytes") => matches!(err, ProtocolError::IvLength),
            w if w.contains("unknown algorithm") => {
                matches!(err, ProtocolError::UnsupportedAlgorithm)
            }
            w if w.contains("unknown envelope version") => {
                matches!(err, ProtocolError::UnsupportedEnvelopeVersion)
            }
            w if w.contains("encryption secret") => matches!(err, ProtocolError::SecretFormat(_)),
            _ => panic!("no expectation for invalid vector {why:?}"),
        };
        assert!(ok, "{why}: unexpected error {err:?}");
    }
}

#[test]
fn relabelled_envelope_is_refused_before_decryption() {
    let file = vectors("config-envelope.json");
    let case = &cases(&file, "valid")[0];
    let other = &cases(&file, "valid")[1];
    let secret = EncryptionSecret::parse(s(case, "encryption_secret")).unwrap();
    let env = Envelope::parse(&case["envelope"]).unwrap();
    let err = env.open(&secret, &agent(other)).unwrap_err();
    assert!(matches!(err, ProtocolError::WrongAgent));
}

/// PBKDF2 at 600000 iterations is the slow part: derive each input once and
/// keep `(MK, WK)`, both computed by the real `MasterKey`/`WrapKey` code.
type Keys = ([u8; 32], [u8; 32]);
type KeyCache = HashMap<(String, [u8; 16], u32), Keys>;

fn keys(passphrase: &str, kdf: &Kdf) -> Keys {
    static CACHE: Mutex<Option<KeyCache>> = Mutex::new(None);
    let id = (passphrase.to_owned(), kdf.salt, kdf.iterations);
    if let Some(k) = CACHE
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .get(&id)
    {
        return *k;
    }
    let mk = match MasterKey::derive(passphrase, kdf) {
        Ok(mk) => mk,
        Err(ProtocolError::WeakKdf { iterations }) => {
            assert_eq!(iterations, kdf.iterations);
            assert!(iterations < MIN_ITERATIONS);
            MasterKey::derive_ignoring_policy(passphrase, kdf)
        }
        Err(e) => panic!("derive: {e}"),
    };
    let k = (
        *mk.expose_bytes(),
        *WrapKey::from_master(&mk).expose_bytes(),
    );
    CACHE.lock().unwrap().as_mut().unwrap().insert(id, k);
    k
}

#[test]
fn master_key_valid() {
    let file = vectors("master-key.json");
    for case in cases(&file, "valid") {
        let passphrase = s(case, "passphrase");
        let nfc: String = passphrase.nfc().collect();
        assert_eq!(hex::encode(nfc), s(case, "passphrase_nfc_utf8_hex"));
        let kdf = Kdf::parse(&case["kdf"]).unwrap();
        assert_eq!(kdf.to_json(), case["kdf"]);
        if kdf.iterations < MIN_ITERATIONS {
            assert!(matches!(
                MasterKey::derive(passphrase, &kdf),
                Err(ProtocolError::WeakKdf { iterations }) if iterations == kdf.iterations
            ));
        } else {
            kdf.check_policy().unwrap();
        }
        let (mk, wk) = keys(passphrase, &kdf);
        assert_eq!(hex::encode(mk), s(case, "master_key_hex"));
        let wk = WrapKey::from_bytes(wk);
        assert_eq!(hex::encode(wk.expose_bytes()), s(case, "wrap_key_hex"));
        let (user, agent) = (user(case), agent(case));

        assert_eq!(key_check_aad(&user), s(case, "key_check_aad"));
        let check = Sealed::parse(&case["key_check"]).unwrap();
        assert_eq!(check.to_json(), case["key_check"]);
        assert_eq!(wk.make_key_check_with_iv(&user, check.iv), check);
        wk.verify_key_check(&user, &check).unwrap();

        assert_eq!(wrap_aad(&user, &agent), s(case, "wrap_aad"));
        let secret = EncryptionSecret::parse(s(case, "encryption_secret")).unwrap();
        let wrapped = Sealed::parse(&case["wrapped_secret"]).unwrap();
        assert_eq!(wrapped.to_json(), case["wrapped_secret"]);
        assert_eq!(
            wk.wrap_secret_with_iv(&user, &agent, &secret, wrapped.iv),
            wrapped
        );
        let unwrapped = wk.unwrap_secret(&user, &agent, &wrapped).unwrap();
        assert_eq!(unwrapped.expose_bytes(), secret.expose_bytes());
    }
}

#[test]
fn master_key_invalid() {
    let file = vectors("master-key.json");
    for case in cases(&file, "invalid") {
        let why = s(case, "why");
        let kdf = Kdf::parse(&case["kdf"]).unwrap();
        let wk = WrapKey::from_bytes(keys(s(case, "passphrase"), &kdf).1);
        let user = user(case);
        let err = if case.get("wrapped_secret").is_some() {
            let wrapped = Sealed::parse(&case["wrapped_secret"]).unwrap();
            wk.unwrap_secret(&user, &agent(case), &wrapped).map(drop)
        } else {
            let check = Sealed::parse(&case["key_check"]).unwrap();
            wk.verify_key_check(&user, &check)
        }
        .expect_err(why);
        assert!(matches!(err, ProtocolError::Decryption), "{why}: {err:?}");
    }
}

#[test]
fn document_edits_valid() {
    let file = vectors("document-edits.json");
    for case in cases(&file, "valid") {
        let name = s(case, "name");
        let edit = DocumentEdit::parse(&case["edit"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut doc = case["document"].clone();
        let changed = edit
            .apply(&mut doc)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc, case["result"], "{name}");
        assert_eq!(Value::Bool(changed), case["changed"], "{name}");
        check_document(&doc).unwrap_or_else(|e| panic!("{name}: result invalid: {e}"));
    }
}

#[test]
fn document_edits_invalid() {
    let file = vectors("document-edits.json");
    for case in cases(&file, "invalid") {
        let name = s(case, "name");
        let want = s(case, "error");
        let mut doc = case["document"].clone();
        let err = match DocumentEdit::parse(&case["edit"]) {
            Err(e) => e,
            Ok(edit) => edit
                .apply(&mut doc)
                .err()
                .unwrap_or_else(|| panic!("{name}: accepted")),
        };
        let code = match &err {
            ProtocolError::InvalidEdit(why) => why.code(),
            ProtocolError::InvalidDocument(_) => "invalid_document",
            other => panic!("{name}: unexpected error {other:?}"),
        };
        assert_eq!(code, want, "{name}");
        assert_eq!(
            doc, case["document"],
            "{name}: a refused edit changed the document"
        );
        let shown = format!("{err} {err:?}");
        for (var, value) in case["edit"]["set_env"].as_object().into_iter().flatten() {
            if let Some(value) = value.as_str().filter(|v| v.len() > 1) {
                assert!(!shown.contains(value), "{name}: error echoes a value");
            }
            if want == "invalid_env_name" && !var.is_empty() {
                assert!(
                    !shown.contains(var.as_str()),
                    "{name}: error echoes the name"
                );
            }
        }
    }
}
