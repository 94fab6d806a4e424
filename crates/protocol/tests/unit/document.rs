use openclaw_fleet_protocol::{check_document, valid_env_name, ConfigDocument, ProtocolError};
use serde_json::{json, Value};

fn parse(v: Value) -> Result<ConfigDocument, ProtocolError> {
    ConfigDocument::parse(v.to_string().as_bytes())
}

fn refused(v: Value) -> String {
    match parse(v.clone()) {
        Err(ProtocolError::InvalidDocument(msg)) => msg,
        Err(e) => panic!("{v}: wrong error {e:?}"),
        Ok(_) => panic!("{v}: accepted"),
    }
}

#[test]
fn env_names() {
    for ok in ["A", "_", "A_1", "_9", "ANTHROPIC_API_KEY", "Z0"] {
        assert!(valid_env_name(ok), "{ok}");
    }
    for bad in ["", "a", "1A", "A-B", "A B", "A=B", "\u{c9}", "Ab", "A\n"] {
        assert!(!valid_env_name(bad), "{bad:?}");
    }
}

#[test]
fn accepts_a_full_document() {
    let doc = parse(json!({
        "schema": 1,
        "env": {"ANTHROPIC_API_KEY": "sk-ant-x", "_X": ""},
        "openclaw": {"gateway": {"port": 18789}},
        "note": "ignored"
    }))
    .unwrap();
    assert_eq!(doc.env.len(), 2);
    assert_eq!(doc.env["ANTHROPIC_API_KEY"], "sk-ant-x");
    assert_eq!(doc.openclaw["gateway"]["port"], 18789);
    let bytes = doc.to_json_bytes();
    let back: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        back,
        json!({"schema": 1, "env": {"ANTHROPIC_API_KEY": "sk-ant-x", "_X": ""},
               "openclaw": {"gateway": {"port": 18789}}})
    );
}

#[test]
fn env_and_openclaw_are_optional() {
    let doc = parse(json!({"schema": 1})).unwrap();
    assert!(doc.env.is_empty() && doc.openclaw.is_empty());
    assert_eq!(
        doc.to_json_bytes().as_slice(),
        br#"{"schema":1,"env":{},"openclaw":{}}"#
    );
}

#[test]
fn refuses_broken_documents() {
    assert!(refused(json!([1])).contains("object"));
    assert!(refused(json!({})).contains("schema"));
    for schema in [json!(2), json!(0), json!("1"), json!(1.5), json!(null)] {
        assert!(refused(json!({"schema": schema})).contains("schema"));
    }
    assert!(refused(json!({"schema": 1, "env": []})).contains("env"));
    assert!(refused(json!({"schema": 1, "env": null})).contains("env"));
    assert!(refused(json!({"schema": 1, "env": {"lower": "x"}})).contains("env"));
    assert!(refused(json!({"schema": 1, "env": {"A-B": "x"}})).contains("env"));
    assert!(refused(json!({"schema": 1, "env": {"A": 1}})).contains("string"));
    assert!(refused(json!({"schema": 1, "env": {"A": {"b": "c"}}})).contains("string"));
    assert!(refused(json!({"schema": 1, "env": {"A": "x\ny"}})).contains("line break"));
    assert!(refused(json!({"schema": 1, "env": {"A": "x\r"}})).contains("line break"));
    assert!(refused(json!({"schema": 1, "env": {"A": "x\u{0}"}})).contains("NUL"));
    assert!(refused(json!({"schema": 1, "openclaw": []})).contains("openclaw"));
    assert!(refused(json!({"schema": 1, "openclaw": "x"})).contains("openclaw"));
}

#[test]
fn refuses_non_json() {
    for bytes in [&b"not json"[..], b"", b"{\"schema\":1", &[0xff, 0xfe]] {
        assert!(matches!(
            ConfigDocument::parse(bytes),
            Err(ProtocolError::InvalidDocument(_))
        ));
    }
}

#[test]
fn check_document_agrees_with_parse() {
    for v in [
        json!({"schema": 1}),
        json!({"schema": 1, "env": {"A": "x"}, "openclaw": {"a": [1]}, "note": 1}),
        json!({"schema": 2}),
        json!({"schema": 1, "env": {"a": "x"}}),
        json!({"schema": 1, "env": {"A": "x\n"}}),
        json!({"schema": 1, "openclaw": null}),
        json!([]),
    ] {
        assert_eq!(check_document(&v).is_ok(), parse(v.clone()).is_ok(), "{v}");
    }
}
