use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use openclaw_fleet_protocol::*;
use serde_json::{json, Value};

fn kdf_json(iterations: Value) -> Value {
    json!({"alg": "PBKDF2-SHA256", "iterations": iterations, "salt": "zGMri_A5zTlhvNZfh8uvkg"})
}

fn fast_wrap_key(passphrase: &str) -> WrapKey {
    let kdf = Kdf::parse(&kdf_json(json!(1000))).unwrap();
    WrapKey::from_master(&MasterKey::derive_ignoring_policy(passphrase, &kdf))
}

/// Seals arbitrary bytes with the crate's AAD, as a buggy or hostile client could.
fn raw_seal(wk: &WrapKey, aad: &str, msg: &[u8]) -> Sealed {
    let iv = [3u8; 12];
    let ct = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(wk.expose_bytes()))
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg,
                aad: aad.as_bytes(),
            },
        )
        .unwrap();
    Sealed { iv, ct }
}

#[test]
fn kdf_policy_bounds() {
    let check = |n: u64| Kdf::parse(&kdf_json(json!(n))).unwrap().check_policy();
    assert!(check(600_000).is_ok());
    assert!(check(10_000_000).is_ok());
    for n in [0, 1000, 599_999, 10_000_001, u32::MAX as u64] {
        assert!(
            matches!(check(n), Err(ProtocolError::WeakKdf { iterations }) if iterations as u64 == n),
            "{n}"
        );
    }
    assert!(matches!(
        Kdf::parse(&kdf_json(json!(1u64 << 40))),
        Err(ProtocolError::WeakKdf {
            iterations: u32::MAX
        })
    ));
    let weak = Kdf::parse(&kdf_json(json!(599_999))).unwrap();
    assert!(matches!(
        MasterKey::derive("long enough passphrase", &weak),
        Err(ProtocolError::WeakKdf {
            iterations: 599_999
        })
    ));
}

#[test]
fn kdf_parse_is_strict() {
    let invalid = |v: Value| matches!(Kdf::parse(&v), Err(ProtocolError::InvalidKdf(_)));
    assert!(invalid(json!("PBKDF2-SHA256")));
    assert!(invalid(
        json!({"alg": "PBKDF2-SHA512", "iterations": 600000, "salt": "zGMri_A5zTlhvNZfh8uvkg"})
    ));
    assert!(invalid(kdf_json(json!("600000"))));
    assert!(invalid(kdf_json(json!(-1))));
    assert!(invalid(kdf_json(json!(600000.5))));
    let mut extra = kdf_json(json!(600000));
    extra["hash"] = json!("sha1");
    assert!(invalid(extra));
    let mut short = kdf_json(json!(600000));
    short["salt"] = json!(b64u::encode(&[1; 15]));
    assert!(invalid(short));
    let mut padded = kdf_json(json!(600000));
    padded["salt"] = json!("zGMri_A5zTlhvNZfh8uvkg==");
    assert!(matches!(Kdf::parse(&padded), Err(ProtocolError::Base64(_))));
}

#[test]
fn generated_kdf_is_policy_compliant_and_salted() {
    let (a, b) = (Kdf::generate(), Kdf::generate());
    assert_eq!(a.iterations, MIN_ITERATIONS);
    a.check_policy().unwrap();
    assert_ne!(a.salt, b.salt);
    assert_eq!(Kdf::parse(&a.to_json()).unwrap(), a);
}

#[test]
fn passphrase_is_nfc_normalised() {
    let kdf = Kdf::parse(&kdf_json(json!(1000))).unwrap();
    let composed = MasterKey::derive_ignoring_policy("Fl\u{e9}et passphrase", &kdf);
    let decomposed = MasterKey::derive_ignoring_policy("Fle\u{301}et passphrase", &kdf);
    let other = MasterKey::derive_ignoring_policy("Fleet passphrase", &kdf);
    assert_eq!(composed.expose_bytes(), decomposed.expose_bytes());
    assert_ne!(composed.expose_bytes(), other.expose_bytes());
}

#[test]
fn passphrase_length_counts_characters_after_nfc() {
    assert!(check_passphrase("12345678901").is_err());
    assert!(check_passphrase("123456789012").is_ok());
    assert!(check_passphrase(
        "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
    )
    .is_ok());
    let decomposed = "e\u{301}".repeat(11);
    assert!(matches!(
        check_passphrase(&decomposed),
        Err(ProtocolError::WeakPassphrase)
    ));
}

#[test]
fn key_check_round_trip() {
    let wk = fast_wrap_key("fast-vector passphrase for unit tests");
    let user = UserId::new_v4();
    let check = wk.make_key_check(&user);
    wk.verify_key_check(&user, &check).unwrap();
    assert_eq!(Sealed::parse(&check.to_json()).unwrap(), check);
    let wrong = fast_wrap_key("another passphrase entirely");
    assert!(matches!(
        wrong.verify_key_check(&user, &check),
        Err(ProtocolError::Decryption)
    ));
    assert!(matches!(
        wk.verify_key_check(&UserId::new_v4(), &check),
        Err(ProtocolError::Decryption)
    ));
    let forged = raw_seal(&wk, &key_check_aad(&user), b"openclaw-fleet key check v2");
    assert!(matches!(
        wk.verify_key_check(&user, &forged),
        Err(ProtocolError::Decryption)
    ));
}

#[test]
fn wrap_round_trip_and_binding() {
    let wk = fast_wrap_key("fast-vector passphrase for unit tests");
    let (user, agent) = (UserId::new_v4(), AgentId::new_v4());
    let secret = EncryptionSecret::generate();
    let wrapped = wk.wrap_secret(&user, &agent, &secret);
    assert_eq!(wrapped.ct.len(), 32 + 16);
    let back = wk.unwrap_secret(&user, &agent, &wrapped).unwrap();
    assert_eq!(back.expose_bytes(), secret.expose_bytes());
    assert_ne!(wk.wrap_secret(&user, &agent, &secret).iv, wrapped.iv);
    for (u, a) in [(UserId::new_v4(), agent), (user, AgentId::new_v4())] {
        assert!(matches!(
            wk.unwrap_secret(&u, &a, &wrapped),
            Err(ProtocolError::Decryption)
        ));
    }
    let short = raw_seal(&wk, &wrap_aad(&user, &agent), &[1; 31]);
    assert!(matches!(
        wk.unwrap_secret(&user, &agent, &short),
        Err(ProtocolError::SecretFormat(_))
    ));
}

#[test]
fn sealed_parse_is_strict() {
    let good = json!({"v": 1, "alg": "A256GCM", "iv": "b8oB_sqRK5NJtA7F",
                      "ct": "XA-6sZwqEHAY2jQ2AilwZ21bZY2Wk-16R3Yr0RkYSwBLOnYhqCdSXpV0hA"});
    assert_eq!(Sealed::parse(&good).unwrap().to_json(), good);
    let with = |k: &str, v: Value| {
        let mut g = good.clone();
        g[k] = v;
        Sealed::parse(&g).unwrap_err()
    };
    assert!(matches!(
        with("agent_id", json!("x")),
        ProtocolError::InvalidEnvelope(_)
    ));
    assert!(matches!(
        with("v", json!(2)),
        ProtocolError::UnsupportedEnvelopeVersion
    ));
    assert!(matches!(
        with("alg", json!("A128GCM")),
        ProtocolError::UnsupportedAlgorithm
    ));
    assert!(matches!(
        with("iv", json!("3LnOs-KDbNg")),
        ProtocolError::IvLength
    ));
    assert!(matches!(
        with("ct", json!("AAAA")),
        ProtocolError::CiphertextTooShort
    ));
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("ct");
    assert!(matches!(
        Sealed::parse(&missing),
        Err(ProtocolError::InvalidEnvelope(_))
    ));
}
