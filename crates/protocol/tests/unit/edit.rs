use openclaw_fleet_protocol::{DocumentEdit, EditRefusal, ProtocolError};
use serde_json::json;
use zeroize::Zeroizing;

fn refusal(r: Result<(), ProtocolError>) -> EditRefusal {
    match r {
        Err(ProtocolError::InvalidEdit(why)) => why,
        other => panic!("expected an edit refusal, got {other:?}"),
    }
}

#[test]
fn builder_refuses_what_parse_refuses() {
    let mut edit = DocumentEdit::default();
    assert!(edit.is_empty());
    edit.set_env("A", Zeroizing::new("1".into())).unwrap();
    assert_eq!(
        refusal(edit.unset_env("A")),
        EditRefusal::SetAndUnset("A".into())
    );
    edit.unset_env("B").unwrap();
    assert_eq!(
        refusal(edit.set_env("B", Zeroizing::new("2".into()))),
        EditRefusal::SetAndUnset("B".into())
    );
    assert_eq!(
        refusal(edit.set_env("sk-secret-looking", Zeroizing::new("v".into()))),
        EditRefusal::EnvName
    );
    assert_eq!(
        refusal(edit.merge_openclaw(json!([1]))),
        EditRefusal::FragmentNotObject
    );
    assert_eq!(edit.env_names(), (vec!["A"], vec!["B"]));
    assert!(!edit.is_empty());
}

#[test]
fn fragments_apply_in_order() {
    let mut edit = DocumentEdit::default();
    edit.merge_openclaw(json!({"a": {"b": 1, "c": 2}})).unwrap();
    edit.merge_openclaw(json!({"a": {"b": null}})).unwrap();
    let mut doc = json!({"schema": 1});
    assert!(edit.apply(&mut doc).unwrap());
    assert_eq!(
        doc,
        json!({"schema": 1, "env": {}, "openclaw": {"a": {"c": 2}}})
    );
}

#[test]
fn refusals_never_carry_the_value() {
    let mut edit = DocumentEdit::default();
    let err = edit
        .set_env("API_KEY", Zeroizing::new("sk-SECRET\nVALUE".into()))
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("API_KEY") && !shown.contains("SECRET"),
        "{shown}"
    );
}
