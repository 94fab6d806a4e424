use super::*;
use crate::crypto::InternalKey;

fn at_rest() -> AtRest {
    AtRest::new(InternalKey::from_bytes([3u8; 32]), vec![])
}

fn cell(table: &'static str, column: &'static str, row: &str, value: &str) -> Cell {
    Cell {
        table,
        column,
        row: row.into(),
        value: value.into(),
    }
}

#[test]
fn patterns_are_found_and_names_are_not() {
    assert_eq!(secret_pattern("ocf_as_abc"), Some("agent secret"));
    assert_eq!(
        secret_pattern("key sk-ant-api03-abcdefgh"),
        Some("provider API key (sk-…)")
    );
    assert_eq!(
        secret_pattern("-----BEGIN PRIVATE KEY-----"),
        Some("PEM key")
    );
    assert_eq!(secret_pattern(&"ab".repeat(20)), Some("long hex run"));
    assert_eq!(secret_pattern(&"Zm9v".repeat(10)), Some("long base64 run"));
    assert_eq!(secret_pattern("disk-1 in rack sk-2"), None);
    assert_eq!(secret_pattern("5ceb2a62-fab6-4ac6-a018-379c742206d9"), None);
    assert_eq!(secret_pattern("prod-eu-west"), None);
}

#[test]
fn plaintext_secret_in_a_sealed_column_is_a_finding() {
    let r = at_rest();
    let c = cell(
        "agents",
        "secret_sealed",
        "a",
        "ocf_as_4tutxVTTIDY24cGqBgzNiAKVbFRQR3sqF9V11pYHE2g",
    );
    assert!(check_cell(&c, &r)
        .unwrap()
        .contains("not under the at-rest layer"));
    let sealed = r.seal(
        Slot {
            table: "agents",
            column: "secret_sealed",
            row: "a",
        },
        b"ocf_as_x",
    );
    assert_eq!(
        check_cell(&cell("agents", "secret_sealed", "a", &sealed), &r),
        None
    );
    // Moved to another row: no longer opens.
    assert!(check_cell(&cell("agents", "secret_sealed", "b", &sealed), &r).is_some());
}

#[test]
fn config_must_hold_an_envelope_inside_the_server_layer() {
    let r = at_rest();
    let id = "5ceb2a62-fab6-4ac6-a018-379c742206d9";
    let slot = Slot {
        table: "agents",
        column: "config_sealed",
        row: id,
    };
    let plain = r.seal(slot, br#"{"schema":1,"env":{"K":"v"}}"#);
    assert!(check_cell(&cell("agents", "config_sealed", id, &plain), &r)
        .unwrap()
        .contains("not an end-to-end"));
    let env = serde_json::json!({"v":1,"alg":"A256GCM","agent_id":id,"version":1,
        "iv":"IqX-Hh_fVIJ-2NzV","ct":"IvXctLMPkSiebhANTv1LFMbuTyblvcKNDKFsm-9FatNGzVJBaBK66-_ki7ADbHvY4XTahRAeIkWN0smGrSdzB6_WPeHsXao6sx-qKFPIKt_wN3sqLwVxpvRwqBPkTiSRCP4l5eat"});
    let good = r.seal(slot, env.to_string().as_bytes());
    assert_eq!(
        check_cell(&cell("agents", "config_sealed", id, &good), &r),
        None
    );
}

#[test]
fn secret_in_a_name_is_a_finding_and_table_never_shows_values() {
    let r = at_rest();
    let cells = vec![
        cell(
            "agents",
            "name",
            "a",
            "web ocf_es_uCnu8972yijA7PEJhfDsyAC978ckYREWkPjtWreD0ao",
        ),
        cell("agents", "name", "b", "web-1"),
        cell("sessions", "token_hash", "u", &"0f".repeat(32)),
    ];
    let findings = audit(&cells, &r);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].row, "a");
    let table = render_table(&findings, cells.len());
    assert!(!table.contains("uCnu8972"));
    assert!(table.contains("encryption secret"));
}

#[test]
fn history_envelopes_are_checked_against_their_agent_and_version() {
    let r = at_rest();
    let id = "1f0c6a57-2f49-4f6c-9d55-1d7b1b0c5a11";
    let env = |version: u64| {
        serde_json::json!({"v":1,"alg":"A256GCM","agent_id":id,"version":version,
            "iv":"IqX-Hh_fVIJ-2NzV","ct":"IvXctLMPkSiebhANTv1LFMbuTyblvcKNDKFsm-9FatNGzVJBaBK66-_ki7ADbHvY4XTahRAeIkWN0smGrSdzB6_WPeHsXao6sx-qKFPIKt_wN3sqLwVxpvRwqBPkTiSRCP4l5eat"})
        .to_string()
    };
    let seal = |row: &str, text: &str| {
        r.seal(
            Slot {
                table: "config_history",
                column: "envelope_sealed",
                row,
            },
            text.as_bytes(),
        )
    };
    let row = format!("{id}/2");
    let check = |row: &str, value: &str| {
        check_cell(&cell("config_history", "envelope_sealed", row, value), &r)
    };
    assert_eq!(check(&row, &seal(&row, &env(2))), None);
    // The envelope inside says another version than the row.
    assert!(check(&row, &seal(&row, &env(3)))
        .unwrap()
        .contains("another agent or version"));
    // Sealed for another row, or not sealed at all.
    assert!(check(&row, &seal(&format!("{id}/1"), &env(2))).is_some());
    assert!(check(&row, &env(2))
        .unwrap()
        .contains("not under the at-rest layer"));
    assert!(check(&row, &seal(&row, "{}"))
        .unwrap()
        .contains("not an end-to-end"));
}

#[test]
fn activity_detail_holds_only_names_and_numbers() {
    let r = at_rest();
    let check = |v: &str| check_cell(&cell("activity", "detail", "7", v), &r);
    for fine in [
        r#"{"fields":["name","gateway_url"]}"#,
        r#"{"version":3,"restored_from":1}"#,
        r#"{"rewrapped":2}"#,
        r#"{"sessions_ended":0}"#,
    ] {
        assert_eq!(check(fine), None, "{fine}");
    }
    for bad in [
        r#"{"gateway_url":"https://gw.example.com"}"#,
        r#"{"fields":["name","sk-ant-value"]}"#,
        r#"{"version":"3"}"#,
        r#"{"password":1}"#,
        "plain text",
    ] {
        let found = check(bad).expect(bad);
        assert!(!found.contains("gw.example") && !found.contains("sk-ant"));
    }
}

#[test]
fn identities_are_checked_across_cells() {
    let r = at_rest();
    let sealed = r.seal(
        Slot {
            table: "agents",
            column: "secret_sealed",
            row: "ed",
        },
        b"ocf_as_whatever",
    );
    let pk = openclaw_fleet_protocol::IdentityKey::generate()
        .public_key()
        .to_encoded();
    let clean = [
        cell("agents", "identity", "ed", "ed25519"),
        cell("agents", "public_key", "ed", &pk),
        cell("agents", "identity", "pending", "ed25519"),
        cell("agents", "identity", "hm", "hmac"),
        cell(
            "agents",
            "secret_sealed",
            "hm",
            &r.seal(
                Slot {
                    table: "agents",
                    column: "secret_sealed",
                    row: "hm",
                },
                b"ocf_as_x",
            ),
        ),
    ];
    assert!(audit(&clean, &r).is_empty(), "{:?}", audit(&clean, &r));
    // An Ed25519 agent that still holds a secret; an HMAC agent without one.
    let mut bad = clean.to_vec();
    bad.push(cell("agents", "secret_sealed", "ed", &sealed));
    bad.retain(|c| !(c.row == "hm" && c.column == "secret_sealed"));
    let findings = audit(&bad, &r);
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(findings
        .iter()
        .any(|f| f.row == "ed" && f.problem.contains("Ed25519 agent still has")));
    assert!(findings
        .iter()
        .any(|f| f.row == "hm" && f.problem.contains("no secret")));
    // Malformed identity values and keys, and secrets in plaintext columns.
    assert!(check_cell(&cell("agents", "identity", "x", "rsa"), &r).is_some());
    assert!(check_cell(&cell("agents", "public_key", "x", "ocf_pk_AAAA"), &r).is_some());
    assert!(check_cell(&cell("agents", "public_key", "x", &pk), &r).is_none());
    assert!(check_cell(
        &cell("enrollment_tokens", "token_hash", "x", "ocf_et_abc"),
        &r
    )
    .is_some());
    assert_eq!(secret_pattern("ocf_ik_abc"), Some("identity key"));
    assert_eq!(secret_pattern("ocf_et_abc"), Some("enrollment token"));
}
