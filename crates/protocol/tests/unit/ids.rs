use openclaw_fleet_protocol::{AgentId, ProtocolError, UserId};

const ID: &str = "75d490bd-b9e2-44ea-a49c-ea2cf9b45726";

#[test]
fn accepts_only_lowercase_hyphenated() {
    assert_eq!(AgentId::parse(ID).unwrap().to_string(), ID);
    assert_eq!(UserId::parse(ID).unwrap().to_string(), ID);
    for bad in [
        "75D490BD-B9E2-44EA-A49C-EA2CF9B45726",
        "75d490bdb9e244eaa49cea2cf9b45726",
        "{75d490bd-b9e2-44ea-a49c-ea2cf9b45726}",
        "urn:uuid:75d490bd-b9e2-44ea-a49c-ea2cf9b45726",
        "75d490bd-b9e2-44ea-a49c-ea2cf9b4572",
        "75d490bd-b9e2-44ea-a49c-ea2cf9b457266",
        "75d490bdb-9e2-44ea-a49c-ea2cf9b45726",
        "75d490bd-b9e2-44ea-a49c-ea2cf9b4572g",
        " 75d490bd-b9e2-44ea-a49c-ea2cf9b4572",
        "",
    ] {
        assert!(
            matches!(AgentId::parse(bad), Err(ProtocolError::InvalidId)),
            "{bad}"
        );
    }
}

#[test]
fn serde_uses_the_string_form() {
    let id = AgentId::parse(ID).unwrap();
    assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(ID));
    assert_eq!(
        serde_json::from_value::<AgentId>(serde_json::json!(ID)).unwrap(),
        id
    );
    assert!(serde_json::from_value::<UserId>(serde_json::json!(ID.to_uppercase())).is_err());
    assert!(serde_json::from_value::<UserId>(serde_json::json!(7)).is_err());
}

#[test]
fn new_v4_is_canonical_and_fresh() {
    let (a, b) = (AgentId::new_v4(), AgentId::new_v4());
    assert_ne!(a, b);
    assert_eq!(AgentId::parse(&a.to_string()).unwrap(), a);
    assert_eq!(a.to_string().parse::<AgentId>().unwrap(), a);
}
